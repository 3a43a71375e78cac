# bash completion for msp-catalog
_msp_catalog() {
	local cur prev words cword
	_init_completion || return
	local opts="--store --admin --type --name --title --about --language
	    --genre --premium --free --uploaded-by --status --sort --limit
	    --after --deleted --set --purge --strict --batch --media --to --help --version"
	case $prev in
	-s|--store) _filedir -d; return ;;
	-t|--type) COMPREPLY=($(compgen -W 'short long' -- "$cur")); return ;;
	--status) COMPREPLY=($(compgen -W 'uploaded processing ready failed' -- "$cur")); return ;;
	--sort) COMPREPLY=($(compgen -W 'newest oldest likes rating' -- "$cur")); return ;;
	-g|--genre) COMPREPLY=($(compgen -W 'action adventure animation biography comedy crime documentary drama family fantasy history horror kids music musical mystery news reality romance sci-fi sport talk thriller war western' -- "$cur")); return ;;
	--language) COMPREPLY=($(compgen -W 'ar as bn de el en es fa fr gu he hi id it ja kn ko ml mr nl or pa pl pt ru sv ta te th tr ur vi zh' -- "$cur")); return ;;
	--set) COMPREPLY=($(compgen -S= -W 'name title about language genres isPremium status progress error sourceBucketFilePath destinationBucketFilePath destinationVideoDetails isDeleted captions' -- "$cur")); compopt -o nospace; return ;;
	--to) COMPREPLY=($(compgen -W 'bucket dir' -- "$cur")); return ;;
	--name|--title|--about|--uploaded-by|-n|--limit|--after|--batch) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	local i cmd= sub=
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s|--store|-t|--type|--name|--title|--about|--language|-g|--genre|--uploaded-by|--status|--sort|-n|--limit|--after|--set|--batch|--to) ((i++)) ;;
		-*) ;;
		*) if [[ -z $cmd ]]; then cmd=${words[i]}; elif [[ -z $sub ]]; then sub=${words[i]}; fi ;;
		esac
	done
	case $cmd in
	'') COMPREPLY=($(compgen -W 'user add get update del list export import check caption media-move' -- "$cur")) ;;
	user) [[ -z $sub ]] && COMPREPLY=($(compgen -W 'add get list del' -- "$cur")) ;;
	caption)
		if [[ -z $sub ]]; then
			COMPREPLY=($(compgen -W 'add del list publish' -- "$cur"))
		elif [[ $sub == add && $cur == *=* ]]; then
			local lang=${cur%%=*}
			cur=${cur#*=}
			_filedir '@(vtt|srt)'
			COMPREPLY=("${COMPREPLY[@]/#/$lang=}")
		fi ;;
	add|import|update|media-move) _filedir ;;
	esac
}
complete -F _msp_catalog msp-catalog
