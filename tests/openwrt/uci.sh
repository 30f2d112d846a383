# A stand-in for OpenWrt's UCI shell functions (config_load, config_get,
# config_foreach, ...), enough to run contrib/openwrt/files/hidupsd.init's
# configuration writer off a router: a UCI file is shell that calls
# config/option/list, so config_load sources it from $UCI_DIR. Written for
# tests/openwrt.rs; POSIX sh.
# shellcheck shell=sh disable=SC2154,SC3043

config_load() {
	for v in $(set | sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1/p'); do
		unset "$v"
	done
	CONFIG_SECTIONS=
	CONFIG_NUM_SECTIONS=0
	if [ -f "$UCI_DIR/$1" ]; then
		# shellcheck disable=SC1090
		. "$UCI_DIR/$1"
	fi
	return 0
}

package() { :; }

config() {
	CONFIG_NUM_SECTIONS=$((CONFIG_NUM_SECTIONS + 1))
	CONFIG_SECTION=${2:-cfg$CONFIG_NUM_SECTIONS}
	CONFIG_SECTIONS="$CONFIG_SECTIONS $CONFIG_SECTION"
	eval "CONFIG_${CONFIG_SECTION}_TYPE=\$1"
}

option() {
	local name="$1"
	shift
	eval "CONFIG_${CONFIG_SECTION}_${name}=\$*"
}

list() {
	local name="$1" len
	shift
	eval "len=\${CONFIG_${CONFIG_SECTION}_${name}_LENGTH:-0}"
	len=$((len + 1))
	eval "CONFIG_${CONFIG_SECTION}_${name}_ITEM$len=\$*"
	eval "CONFIG_${CONFIG_SECTION}_${name}_LENGTH=$len"
	eval "CONFIG_${CONFIG_SECTION}_${name}=\"\${CONFIG_${CONFIG_SECTION}_${name}:+\${CONFIG_${CONFIG_SECTION}_${name}} }\$*\""
}

config_get() {
	case "$2${3:-$1}" in
	*[!A-Za-z0-9_]*) return 0 ;;
	esac
	if [ -z "$3" ]; then
		eval "echo \"\${CONFIG_${1}_${2}:-\${4}}\""
	else
		eval "${1}=\${CONFIG_${2}_${3}:-\${4}}"
	fi
}

config_get_bool() {
	local _tmp
	config_get _tmp "$2" "$3" "$4"
	case "$_tmp" in
	1 | on | true | yes | enabled) _tmp=1 ;;
	0 | off | false | no | disabled) _tmp=0 ;;
	*) _tmp="$4" ;;
	esac
	eval "$1=\$_tmp"
}

config_foreach() {
	local fn="$1" type="$2" section t
	shift 2
	for section in $CONFIG_SECTIONS; do
		config_get t "$section" TYPE
		[ -n "$type" ] && [ "$t" != "$type" ] && continue
		"$fn" "$section" "$@"
	done
}

config_list_foreach() {
	local section="$1" opt="$2" fn="$3" len c=1 val
	shift 3
	config_get len "$section" "${opt}_LENGTH"
	[ -n "$len" ] || return 0
	while [ "$c" -le "$len" ]; do
		config_get val "$section" "${opt}_ITEM$c"
		"$fn" "$val" "$@"
		c=$((c + 1))
	done
}

# Messages go to the test's standard error; ownership is not the test's.
logger() {
	echo "logger $*" >&2
}
chgrp() { :; }
