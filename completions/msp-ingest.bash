# bash completion for msp-ingest
_msp_ingest() {
	local cur prev words cword
	_init_completion || return
	local opts="--store --type --title --about --language --genre --premium
	    --uploaded-by --name --meta --caption --max-size --limit --dry-run
	    --strict --help --version"
	case $prev in
	-s|--store) _filedir -d; return ;;
	-t|--type) COMPREPLY=($(compgen -W 'short long' -- "$cur")); return ;;
	-g|--genre) COMPREPLY=($(compgen -W 'action adventure animation biography comedy crime documentary drama family fantasy history horror kids music musical mystery news reality romance sci-fi sport talk thriller war western' -- "$cur")); return ;;
	--language) COMPREPLY=($(compgen -W 'ar as bn de el en es fa fr gu he hi id it ja kn ko ml mr nl or pa pl pt ru sv ta te th tr ur vi zh' -- "$cur")); return ;;
	--meta) _filedir; return ;;
	--caption)
		if [[ $cur == *=* ]]; then
			local lang=${cur%%=*}
			cur=${cur#*=}
			_filedir '@(vtt|srt)'
			COMPREPLY=("${COMPREPLY[@]/#/$lang=}")
		else
			compopt -o nospace
			COMPREPLY=($(compgen -S = -W 'ar as bn de el en es fa fr gu he hi id it ja kn ko ml mr nl or pa pl pt ru sv ta te th tr ur vi zh' -- "$cur"))
		fi
		return ;;
	--limit) compopt -o nospace; COMPREPLY=($(compgen -W 'width= height= pixels= fps= duration= streams=' -- "$cur")); return ;;
	--max-size) COMPREPLY=($(compgen -W '64M 512M 1G 4G 16G' -- "$cur")); return ;;
	--title|--about|--uploaded-by|--name|--limit) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	_filedir
}
complete -F _msp_ingest msp-ingest
