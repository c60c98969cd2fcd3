# IMAP receiver (issue 7): a real Dovecot (dovecot.sh) in the test's network namespace.
# The helper itself: curl lists and fetches generated market mails over STARTTLS and IMAPS.
gw_integration_test(test_imap_dovecot)
