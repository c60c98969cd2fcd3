# The relay's duplicate test, for a Dovecot (Pigeonhole) that is the relay's mail store
# (`spool lmtp`; docs/protocol.md, section 3.2). Run before every other script of the
# mailboxes the relay delivers to (sieve_before), compiled with sievec.
#
# The relay puts one header before each message it hands over:
#     X-Relay-Delivery: LOCATION/SHA256HEX; uidvalidity=N; uid=N
# A message whose LOCATION/SHA256HEX this mailbox has had before is discarded: the store
# answers 250, and keeps the one copy it has (or had: a consumer may have taken it). That
# is what makes a delivery exactly once when a relay dies after the store's 250 and the
# gateway delivers the message again, to the same relay or another. Pigeonhole records a
# key only once its delivery succeeded, and locks it while a delivery runs, so two relays
# delivering the same message at once store it once. Keys are kept for 30 days
# (sieve_duplicate_max_period must allow it: 90-relay-store.conf).
require ["duplicate", "variables", "editheader"];

if header :matches "X-Relay-Delivery" "*; uidvalidity=*; uid=*" {
    if duplicate :uniqueid "${1}" :seconds 2592000 {
        discard;
        stop;
    }
}

# Dovecot's LMTP puts "Return-Path: <>" (the relay's null sender) above every message, the
# first header of all: off with that one (the message's own, further down, stays), so the
# message is kept as the gateway read it, behind the relay's one header.
deleteheader :index 1 :is "Return-Path" "<>";
