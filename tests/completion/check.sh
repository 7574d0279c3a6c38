#!/bin/bash
# The bash completion of hubctl and bus-tap offers every command and spelling the man
# pages document (names of a running hub aside: none runs here).
#   check.sh SOURCE_DIR
set -u
src=$1
source "$src/packaging/bash-completion/hubctl"
source "$src/packaging/bash-completion/bus-tap"
hubctl() { return 1; }  # no hub: no names
status=0

# offers "WORDS..." -- EXPECTED...: completing the last word offers every EXPECTED.
offers() {
    local -a words=()
    while [[ $1 != -- ]]; do words+=("$1"); shift; done
    shift
    COMP_WORDS=("${words[@]}")
    COMP_CWORD=$((${#words[@]} - 1))
    COMPREPLY=()
    case ${words[0]} in
        hubctl) _hubctl ;;
        bus-tap) _bus_tap ;;
    esac
    local expected
    for expected in "$@"; do
        if ! printf '%s\n' "${COMPREPLY[@]}" | grep -qxF -- "$expected"; then
            echo "FAIL: '${words[*]}' does not offer $expected (offers: ${COMPREPLY[*]})" >&2
            status=1
        fi
    done
}

offers hubctl "" -- status inspect pid avail start stop restart signal enable disable reload \
    reread publish logs tail keygen help
offers hubctl --root /r "" -- pid avail reread signal
offers hubctl - -- --root --credential --timeout --json -o --version --help
offers hubctl status - -- --json --root
offers hubctl pid "" -- all
offers hubctl signal "" -- HUP USR1 TERM
offers hubctl signal HUP "" -- all
offers hubctl publish - -- -t -m -r -n -s -l -f --content-type --retain --root
offers hubctl logs Svc - -- --scripts --since -f -n -u --json
offers hubctl tail - -- -f -n --since
offers hubctl logs Svc -o "" -- json text
offers hubctl start - -- --replace
offers bus-tap - -- -v -t -T -C -W -R -N -F --pretty --retained-only --last --from --follow \
    --version
[ "$status" -eq 0 ] && echo "bash completion offers every spelling: ok"
exit "$status"
