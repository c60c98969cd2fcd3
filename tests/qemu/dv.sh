#!/usr/bin/env bash
# The QEMU boot test's hands on its Dovecot (boot_test.py runs this): one of
# tests/integration/dovecot.sh's functions against the instance test_qemu_boot.sh started.
#
#   dv.sh DV_DIR count FOLDER [QUERY]   messages in FOLDER (dv_count)
#   dv.sh DV_DIR append FOLDER I[:SIZE]...   append market mails I... (dv_append: IDLE
#                                       hears it), SIZE as for dv_mail
#   dv.sh DV_DIR mail I [SIZE]          market mail I as dv_fill/dv_append make it (dv_mail)
#   dv.sh DV_DIR sha I...               the SHA-256 of market mails I..., one a line
#   dv.sh DV_DIR mkdir FOLDER           create FOLDER
# DV_USER and DV_PASS come from the environment (test_qemu_boot.sh exports them).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/dovecot.sh"
DV_DIR=${1:?usage: dv.sh DV_DIR count|append|mail|sha|mkdir ARGS...}
what=${2:?usage: dv.sh DV_DIR count|append|mail|sha|mkdir ARGS...}
shift 2
case $what in
count) dv_count "$@" ;;
append)
    folder=$1; shift
    for spec in "$@"; do
        size=0
        [[ $spec == *:* ]] && size=${spec#*:}
        dv_append "$folder" "${spec%%:*}" "$size"
    done ;;
mail) dv_mail "$@" ;;
sha) for i in "$@"; do dv_mail "$i" 0 | sha256sum | cut -d' ' -f1; done ;;
mkdir) dv_doveadm mailbox create -u "$DV_USER" "$1" ;;
*) t_fail "dv.sh: unknown action '$what'" ;;
esac
