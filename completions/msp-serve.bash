# bash completion for msp-serve
_msp_serve() {
	local cur prev words cword
	_init_completion || return
	local opts="--store --listen --threads --workers --ladder
	    --max-connections --per-ip --idle-timeout --request-timeout
	    --max-header --max-body --max-upload --session-ttl --url-ttl --cors
	    --web --media-origin --access-log --grace --pay-config --secure-cookie --sign --passwd --help
	    --version"
	case $prev in
	-s|--store|--web) _filedir -d; return ;;
	--access-log|--pay-config) _filedir; return ;;
	-l|--listen|-t|--threads|--workers|--ladder|--max-connections|--per-ip|\
	--idle-timeout|--request-timeout|--max-header|--max-body|--max-upload|\
	--session-ttl|--url-ttl|--cors|--media-origin|--grace|--sign|--passwd) return ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _msp_serve msp-serve
