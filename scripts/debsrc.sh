# debsrc.sh: fetch a Debian source package without touching the machine's
# apt configuration. Sourced (not run) by scripts/build-*.sh, which define
# die() and log() first.
#
#   debsrc_prepare APTDIR        private deb-src list + 'apt-get update'
#   debsrc_fetch APTDIR DEST PKG VERSION
#                                'apt-get source PKG=VERSION' into DEST
#                                (emptied first; dpkg-source unpacks it and
#                                applies Debian's patches)
#
# The deb-src entries are derived from the Debian archives the machine
# already uses: every enabled "deb" entry (one-line or deb822 format) whose
# URI ends in /debian or /debian-security, Signed-By kept. Everything apt
# would write (lists, caches) goes under APTDIR. Needs apt-get and dpkg-dev.

debsrc_opts() {
	# The sandbox user is root because _apt may not be able to write under
	# the repository.
	echo "-o Dir::Etc::SourceList=/dev/null
	-o Dir::Etc::SourceParts=$1/sources.list.d
	-o Dir::State::Lists=$1/lists
	-o Dir::Cache=$1/cache
	-o Dir::Cache::pkgcache=$1/cache/pkgcache.bin
	-o Dir::Cache::srcpkgcache=$1/cache/srcpkgcache.bin
	-o APT::Sandbox::User=root
	-o Acquire::Languages=none
	-o APT::Get::List-Cleanup=false"
}

debsrc_prepare() {
	_aptdir=$1
	rm -rf "$_aptdir"
	mkdir -p "$_aptdir/sources.list.d" "$_aptdir/lists/partial" \
		"$_aptdir/cache/archives/partial"
	_list=$_aptdir/sources.list.d/rampart-src.list
	: >"$_list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# One-line format: deb [opts] uri suite comp...
		sed -e 's/#.*//' "$f" | awk '$1 == "deb" {
			$1 = "deb-src"; uri = ($2 ~ /^\[/) ? "" : $2
			for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i ~ /:\/\//) { uri = $i; break }
			if (uri ~ /\/debian(-security)?\/?$/) print
		}' >>"$_list"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: stanzas separated by blank lines; fields Types, URIs,
		# Suites, Components, Signed-By, Enabled.
		awk '
		function flush() {
			if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[Nn]o/ && uris != "") {
				n = split(uris, u, /[ \t]+/); m = split(suites, s, /[ \t]+/)
				for (i = 1; i <= n; i++) {
					if (u[i] !~ /\/debian(-security)?\/?$/) continue
					for (j = 1; j <= m; j++) {
						opt = (signed != "") ? "[signed-by=" signed "] " : ""
						print "deb-src " opt u[i] " " s[j] " " comps
					}
				}
			}
			types = uris = suites = comps = signed = enabled = ""
		}
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		{
			key = $1; sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
			if (key == "Types") types = val
			else if (key == "URIs") uris = val
			else if (key == "Suites") suites = val
			else if (key == "Components") comps = val
			else if (key == "Signed-By") signed = val
			else if (key == "Enabled") enabled = val
		}
		END { flush() }' "$f" >>"$_list"
	done
	[ -s "$_list" ] ||
		die "no Debian archive found in /etc/apt/sources.list{,.d/*} to derive a deb-src entry from"
	log "private deb-src entries:"
	sed 's/^/    /' "$_list"
	# shellcheck disable=SC2046
	apt-get -q $(debsrc_opts "$_aptdir") update >"$_aptdir/update.log" 2>&1 ||
		{ cat "$_aptdir/update.log" >&2; die "private 'apt-get update' failed"; }
}

debsrc_fetch() {
	_aptdir=$1 _dest=$2 _pkg=$3 _ver=$4
	rm -rf "$_dest"
	mkdir -p "$_dest"
	log "fetching $_pkg=$_ver source"
	# shellcheck disable=SC2046
	(cd "$_dest" && apt-get -q $(debsrc_opts "$_aptdir") source "$_pkg=$_ver") \
		>"$_aptdir/source.log" 2>&1 ||
		{ cat "$_aptdir/source.log" >&2; die "'apt-get source $_pkg=$_ver' failed"; }
}
