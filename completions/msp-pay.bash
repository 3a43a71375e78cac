# bash completion for msp-pay
_msp_pay() {
	local cur prev words cword
	_init_completion || return
	local opts="--store --config --plans --user --months --order --payment
	    --signature --event-id --help --version"
	case $prev in
	-s|--store) _filedir -d; return ;;
	-c|--config) _filedir; return ;;
	-p|--plans) _filedir jsonl; return ;;
	-m|--months) COMPREPLY=($(compgen -W '1 3 6 12' -- "$cur")); return ;;
	-u|--user|-o|--order|--payment|--signature|--event-id) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	local i cmd=
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s|--store|-c|--config|-p|--plans|-u|--user|-m|--months|-o|--order|--payment|--signature|--event-id) ((i++)) ;;
		-*) ;;
		*) [[ -z $cmd ]] && cmd=${words[i]} ;;
		esac
	done
	case $cmd in
	'') COMPREPLY=($(compgen -W 'order confirm webhook status list plans' -- "$cur")) ;;
	webhook) _filedir ;;
	esac
}
complete -F _msp_pay msp-pay
