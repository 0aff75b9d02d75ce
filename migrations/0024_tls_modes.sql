-- An account's TLS mode is a choice of three: 'tls' (from the first byte), 'starttls' (required)
-- or 'plain' (no encryption; the application allows it only to a loopback host, src/domain/
-- tls_mode.ts). Old rows keep their meaning: IMAP's unchecked box was STARTTLS, required; SMTP's
-- checked box was TLS from the first byte on port 465 and STARTTLS on any other port.
ALTER TABLE accounts ALTER COLUMN imap_tls TYPE text
  USING CASE WHEN imap_tls THEN 'tls' ELSE 'starttls' END;
ALTER TABLE accounts ALTER COLUMN smtp_tls TYPE text
  USING CASE
    WHEN smtp_host IS NULL AND smtp_tls IS NULL THEN NULL
    WHEN smtp_tls IS NOT FALSE AND smtp_port = 465 THEN 'tls'
    ELSE 'starttls'
  END;
ALTER TABLE accounts
  ADD CONSTRAINT accounts_imap_tls_mode CHECK (imap_tls IN ('tls', 'starttls', 'plain')),
  ADD CONSTRAINT accounts_smtp_tls_mode CHECK (smtp_tls IN ('tls', 'starttls', 'plain'));
