# bash completion for msp-serve
_msp_serve() {
	local cur prev words cword
	_init_completion || return
	local opts="--store --listen --threads --workers --ladder --dispatch
	    --attempts --chunk --lease --redis-ca --redis-cert --redis-key
	    --max-connections --per-ip --idle-timeout --request-timeout
	    --max-header --max-body --max-upload --max-uploads --min-rate
	    --hash-threads --hash-queue --login-fails --login-fails-ip
	    --login-fails-account --limit --upload-quota --upload-ttl
	    --session-ttl --url-ttl --media-delivery --cors
	    --web --media-origin --file-buffers --access-log --grace --pay-config --secure-cookie --sign --passwd --help
	    --version"
	case $prev in
	-s|--store|--web) _filedir -d; return ;;
	--access-log|--pay-config|--redis-ca|--redis-cert|--redis-key) _filedir; return ;;
	--dispatch) COMPREPLY=($(compgen -W 'redis://127.0.0.1:6379/0 rediss://localhost:6380/0' -- "$cur")); return ;;
	--chunk) COMPREPLY=($(compgen -W '0 60 90 120' -- "$cur")); return ;;
	--attempts|--lease) return ;;
	--limit) compopt -o nospace; COMPREPLY=($(compgen -W 'width= height= pixels= fps= duration= streams=' -- "$cur")); return ;;
	--media-delivery) COMPREPLY=($(compgen -W "proxy redirect" -- "$cur")); return ;;
	-l|--listen|-t|--threads|--workers|--ladder|--max-connections|--per-ip|\
	--idle-timeout|--request-timeout|--max-header|--max-body|--max-upload|\
	--max-uploads|--min-rate|--hash-threads|--hash-queue|--login-fails|\
	--login-fails-ip|--login-fails-account|\
	--upload-quota|--upload-ttl|\
	--session-ttl|--url-ttl|--cors|--media-origin|--file-buffers|--grace|--sign|--passwd) return ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _msp_serve msp-serve
