"""SQL of the guide's four queries and of bet placement. Each is served by an index in schema.sql."""

# Query 1: the active-bets dashboard (newest active bets). bets_active_placed_at_idx.
QUERY1_ACTIVE_BETS = """
SELECT b.id, b.user_id, b.market_id, m.name AS market, e.name AS event, b.stake, b.odds, b.placed_at
FROM bets b
JOIN markets m ON m.id = b.market_id
JOIN events e ON e.id = m.event_id
WHERE b.status = 'active'
ORDER BY b.placed_at DESC
LIMIT 50
"""

# Query 2: one user's bet history, newest first. bets_user_placed_at_idx.
QUERY2_USER_BETS = """
SELECT b.id, b.market_id, m.name AS market, b.stake, b.odds, b.status, b.placed_at
FROM bets b
JOIN markets m ON m.id = b.market_id
WHERE b.user_id = %(user_id)s
ORDER BY b.placed_at DESC
LIMIT %(limit)s
"""
USER_EXISTS = "SELECT 1 FROM users WHERE id = %(user_id)s"

# Query 3: a market's open exposure (stake held and payout owed if every active bet wins).
QUERY3_MARKET_EXPOSURE = """
SELECT m.id AS market_id, m.name AS market, m.status, e.name AS event,
       count(b.id) AS active_bets,
       coalesce(sum(b.stake), 0) AS total_stake,
       coalesce(sum(b.stake * b.odds), 0) AS potential_payout
FROM markets m
JOIN events e ON e.id = m.event_id
LEFT JOIN bets b ON b.market_id = m.id AND b.status = 'active'
WHERE m.id = %(market_id)s
GROUP BY m.id, e.name
"""

# Query 4: bets and turnover per UTC day over the last N days (today included), from the trigger-maintained
# rollup bet_daily_volume (see schema.sql); its primary key (day, shard) serves the range.
QUERY4_DAILY_VOLUME = """
SELECT day, sum(bets)::bigint AS bets, sum(turnover) AS turnover
FROM bet_daily_volume
WHERE day > (now() AT TIME ZONE 'UTC')::date - %(days)s
GROUP BY day
ORDER BY day
"""

META = """
SELECT (SELECT count(*) FROM users) AS users,
       coalesce((SELECT array_agg(id ORDER BY id) FROM markets WHERE status = 'open'), '{}') AS open_ids,
       coalesce((SELECT array_agg(id ORDER BY id) FROM markets WHERE status <> 'open'), '{}') AS closed_ids
"""

# Bet placement, one transaction on the primary. FOR SHARE keeps the market from being closed between
# the check and the insert; the conditional UPDATE checks and debits the balance in one step, so two
# concurrent bets cannot both spend the same money.
LOCK_MARKET = "SELECT status FROM markets WHERE id = %(market_id)s FOR SHARE"
DEBIT_USER = """
UPDATE users SET balance = balance - %(stake)s
WHERE id = %(user_id)s AND balance >= %(stake)s
RETURNING balance
"""
USER_BALANCE = "SELECT balance FROM users WHERE id = %(user_id)s"
INSERT_BET = """
INSERT INTO bets (user_id, market_id, stake, odds)
VALUES (%(user_id)s, %(market_id)s, %(stake)s, %(odds)s)
RETURNING id, placed_at
"""
