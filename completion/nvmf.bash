# bash completion for nvmf. Subcommands and options are read from the binary's own --help (cached per
# command), so completion never drifts from the command line; values are completed where the set is known.

_nvmf_help_words() {  # section (Options|Subcommands), command words...
    local section=$1; shift
    local key="$*_$section"
    key=${key//[^a-zA-Z0-9_]/_}
    local cache="_nvmf_cache_${key}"
    if [[ -z ${!cache+x} ]]; then
        local words
        words=$("${_nvmf_bin:-nvmf}" "$@" --help 2>/dev/null | awk -v s="$section:" '
            $0 == s { on = 1; next }
            /^[A-Za-z]+:$/ { on = 0 }
            on && /^  [^ ]/ { split($1, names, ","); for (i in names) print names[i] }')
        printf -v "$cache" '%s' "$words"
    fi
    printf '%s\n' "${!cache}"
}

_nvmf() {
    local cur prev words cword
    _init_completion || return
    _nvmf_bin=${words[0]}

    # The command path: subcommand words before the cursor (target-ctl has its own subcommands).
    local path=() i w
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        [[ $w == -* ]] && continue
        if _nvmf_help_words Subcommands "${path[@]}" | grep -qxF -- "$w"; then path+=("$w"); fi
    done

    case $prev in
        -t|--transport) COMPREPLY=($(compgen -W "tcp rdma" -- "$cur")); return ;;
        -o|--output-format)
            if [[ ${path[0]} != perf ]]; then COMPREPLY=($(compgen -W "normal json" -- "$cur")); return; fi ;;
        --output-format) COMPREPLY=($(compgen -W "normal json" -- "$cur")); return ;;
        -w|--pattern)
            COMPREPLY=($(compgen -W "read write randread randwrite rw randrw" -- "$cur")); return ;;
        --config|--ready-file|--data|-d|--socket|--control-socket) _filedir; return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_nvmf_help_words Options "${path[@]}")" -- "$cur"))
    else
        local subs
        subs=$(_nvmf_help_words Subcommands "${path[@]}")
        if [[ -n $subs ]]; then
            COMPREPLY=($(compgen -W "$subs" -- "$cur"))
        else
            _filedir
        fi
    fi
}
complete -F _nvmf nvmf
