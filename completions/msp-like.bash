# bash completion for msp-like
_msp_like() {
	local cur prev words cword
	_init_completion || return
	local opts="--store --user --video --limit --after --strict --help
	    --version"
	case $prev in
	-s|--store) _filedir -d; return ;;
	-u|--user|--video|-n|--limit|--after) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	local i cmd=
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s|--store|-u|--user|--video|-n|--limit|--after) ((i++)) ;;
		-*) ;;
		*) [[ -z $cmd ]] && cmd=${words[i]} ;;
		esac
	done
	[[ -z $cmd ]] && COMPREPLY=($(compgen -W 'add del count list' -- "$cur"))
}
complete -F _msp_like msp-like
