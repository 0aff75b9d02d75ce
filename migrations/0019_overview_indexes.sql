-- The overview page counts replies sent and suppressed over the last 30 days. Without these the
-- count reads every outbox row and every decision ever stored (EXPLAIN showed sequential scans of
-- both); with them it reads only the month's rows, as the message count does with
-- messages_received. Both are partial: only sent replies and suppressed decisions are indexed.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX decisions_suppressed ON decisions (decided_at) WHERE outcome = 'suppressed';
