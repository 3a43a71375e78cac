# bash completion for msp-transcode
_msp_transcode() {
	local cur prev words cword
	_init_completion || return
	local opts="--store --ladder --format --segment --preset --jobs
	    --pending --progress --strict --input --output --job --media --emit
	    --apply --status --requeue --attempts --name --dispatch --worker
	    --lease --chunk --redis-ca --redis-cert --redis-key --until-done
	    --help --version"
	case $prev in
	-s|--store|-o|--output) _filedir -d; return ;;
	-i|--input|--job|--apply|--redis-ca|--redis-cert|--redis-key) _filedir; return ;;
	--media) _filedir -d; return ;;
	--emit|--attempts|--name|--lease) return ;;
	--chunk) COMPREPLY=($(compgen -W '0 60 90 120' -- "$cur")); return ;;
	--dispatch|--worker) COMPREPLY=($(compgen -W 'redis://127.0.0.1:6379/0 rediss://localhost:6380/0' -- "$cur")); return ;;
	-l|--ladder) COMPREPLY=($(compgen -W '270:400k,360:1500k,540:3500k,720:6000k,1080:8500k 360:1500k,720:6000k' -- "$cur")); return ;;
	-f|--format) COMPREPLY=($(compgen -W 'fmp4 ts' -- "$cur")); return ;;
	-t|--segment) COMPREPLY=($(compgen -W '2 4 6 10' -- "$cur")); return ;;
	-p|--preset) COMPREPLY=($(compgen -W 'ultrafast superfast veryfast faster fast medium slow slower veryslow' -- "$cur")); return ;;
	-j|--jobs) COMPREPLY=($(compgen -W '1 2 4 8' -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
}
complete -F _msp_transcode msp-transcode
