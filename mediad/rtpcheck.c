#include "rtpcheck.h"

const char *mrtp_check_name(int rc)
{
	switch (rc) {
	case MRTP_OK: return "ok";
	case MRTP_E_SHORT: return "short";
	case MRTP_E_VERSION: return "version";
	case MRTP_E_CSRC: return "csrc-count";
	case MRTP_E_EXT: return "extension-length";
	case MRTP_E_PAD: return "padding";
	case MRTP_E_RTCP_LEN: return "rtcp-length";
	}
	return "?";
}

int mrtp_rtcp_check(const uint8_t *p, size_t len)
{
	size_t off = 0;

	if (len < 4)
		return MRTP_E_SHORT;
	while (off < len) {
		size_t n;

		/* 1-3 bytes left cannot be a header: the lengths do not add up. */
		if (len - off < 4)
			return MRTP_E_RTCP_LEN;
		if ((p[off] & 0xc0) != 0x80)
			return MRTP_E_VERSION;
		n = 4u * (((size_t)p[off + 2] << 8 | p[off + 3]) + 1u);
		if (n > len - off)
			return MRTP_E_RTCP_LEN;
		off += n;
	}
	return MRTP_OK;
}
