# bash completion for msp-rate
_msp_rate() {
	local cur prev words cword
	_init_completion || return
	local opts="--store --genre --language --limit --strict --help --version"
	case $prev in
	-s|--store) _filedir -d; return ;;
	-g|--genre) COMPREPLY=($(compgen -W 'action adventure animation biography comedy crime documentary drama family fantasy history horror kids music musical mystery news reality romance sci-fi sport talk thriller war western' -- "$cur")); return ;;
	-l|--language) COMPREPLY=($(compgen -W 'ar as bn de el en es fa fr gu he hi id it ja kn ko ml mr nl or pa pl pt ru sv ta te th tr ur vi zh' -- "$cur")); return ;;
	-n|--limit) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	local i cmd= n=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s|--store|-g|--genre|-l|--language|-n|--limit) ((i++)) ;;
		-*) ;;
		*) [[ -z $cmd ]] && cmd=${words[i]} || ((n++)) ;;
		esac
	done
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W 'set del get top' -- "$cur"))
	elif [[ $cmd == set && $n -eq 2 ]]; then
		COMPREPLY=($(compgen -W '1 2 3 4 5' -- "$cur"))
	fi
}
complete -F _msp_rate msp-rate
