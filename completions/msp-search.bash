# bash completion for msp-search
_msp_search() {
	local cur prev words cword
	_init_completion || return
	local opts="--store --type --genre --language --premium --free --limit
	    --offset --facets --explain --no-typos --help --version"
	case $prev in
	-s|--store) _filedir -d; return ;;
	-t|--type) COMPREPLY=($(compgen -W 'short long' -- "$cur")); return ;;
	-g|--genre) COMPREPLY=($(compgen -W 'action adventure animation biography comedy crime documentary drama family fantasy history horror kids music musical mystery news reality romance sci-fi sport talk thriller war western' -- "$cur")); return ;;
	--language) COMPREPLY=($(compgen -W 'ar as bn de el en es fa fr gu he hi id it ja kn ko ml mr nl or pa pl pt ru sv ta te th tr ur vi zh' -- "$cur")); return ;;
	-n|--limit|--offset) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	if ((cword == 1)); then
		COMPREPLY=($(compgen -W 'reindex' -- "$cur"))
	fi
}
complete -F _msp_search msp-search
