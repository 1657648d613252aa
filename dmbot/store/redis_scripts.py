"""The Lua scripts of the Redis store: each one is a single atomic step.

Redis runs a script without interleaving other commands, so a script is the
store's transaction: the commit writes claim, state and outbox together, the
outbox updates move a row and its conversation's queue together, and every
lease or lock is only renewed or released by the holder that took it.

Scripts build the keys of a conversation from ``prefix`` and the
conversation's member name (``"{account}:{peer}"``), so the store targets
one Redis server (or a primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

# Forget finished outbox rows created before a cutoff, at most `count` of them.
_TRIM = """
local function trim(prefix, cutoff, count)
  local done = prefix .. ':ob:done'
  local ids = redis.call('ZRANGEBYSCORE', done, '-inf', '(' .. cutoff, 'LIMIT', 0, count)
  for _, id in ipairs(ids) do
    local row = prefix .. ':ob:' .. id
    local f = redis.call('HMGET', row, 'account', 'peer', 'sent_id')
    if f[1] then
      redis.call('ZREM', prefix .. ':obc:' .. f[1] .. ':' .. f[2], id)
    end
    if f[3] and f[3] ~= '' then
      redis.call('DEL', prefix .. ':sent:' .. f[3])
    end
    redis.call('DEL', row)
    redis.call('ZREM', prefix .. ':ob:all', id)
    redis.call('ZREM', done, id)
  end
  return #ids
end
"""

APPEND = """
local seq = redis.call('INCR', KEYS[1])
return redis.call('XADD', KEYS[2], seq .. '-0', 'b', ARGV[1], 't', ARGV[2], 'h', ARGV[3])
"""
"""KEYS: sequence, stream. ARGV: body, received_at, hint.

Entry ids come from one counter shared by every partition, so deliveries
read from several partitions can be put back in arrival order.
"""

COMMIT = (
    _TRIM
    + """
local prefix, now, event_id = ARGV[1], ARGV[2], ARGV[3]
local claims = prefix .. ':claims'
-- Housekeeping first: it is no part of the commit, and may fail only before it.
redis.call('ZREMRANGEBYSCORE', claims, '-inf', '(' .. ARGV[4])
trim(prefix, ARGV[4], 32)
if event_id ~= '' and redis.call('ZSCORE', claims, event_id) then
  return 0
end
local member = ARGV[7]
local queue = prefix .. ':obq:' .. member
local seq_key = prefix .. ':ob:seq'
local n = tonumber(ARGV[10])
-- Redis does not undo a script's writes when a later command fails: every check
-- that can fail is made before the first write, so the commit is all or nothing.
local function expect(key, kind)
  local found = redis.call('TYPE', key)['ok']
  if found ~= 'none' and found ~= kind then
    error('dmbot: the commit cannot write ' .. key .. ': it holds a ' .. found
      .. ', not a ' .. kind)
  end
end
expect(claims, 'zset')
if n > 0 then
  expect(queue, 'list')
  expect(prefix .. ':obc:' .. member, 'zset')
  expect(prefix .. ':ob:all', 'zset')
  expect(prefix .. ':ob:due', 'zset')
  expect(seq_key, 'string')
  local seq = redis.call('GET', seq_key) or '0'
  if not string.match(seq, '^%d+$') then
    error('dmbot: the commit cannot count outbox rows: ' .. seq_key .. ' is not a number')
  end
  for i = 1, n do
    expect(prefix .. ':ob:' .. (tonumber(seq) + i), 'hash')
  end
end
if event_id ~= '' then
  redis.call('ZADD', claims, now, event_id)
end
if ARGV[5] == '1' then
  redis.call('SET', prefix .. ':doc:' .. member, ARGV[6])
end
local account, peer = ARGV[8], ARGV[9]
if n > 0 then
  local was_empty = redis.call('LLEN', queue) == 0
  for i = 0, n - 1 do
    local id = redis.call('INCR', seq_key)
    redis.call('HSET', prefix .. ':ob:' .. id,
      'account', account, 'peer', peer, 'kind', ARGV[11 + 2 * i], 'payload', ARGV[12 + 2 * i],
      'created', now, 'next_at', now, 'attempts', 0, 'source', event_id, 'status', 0,
      'error', '', 'code', '', 'sent_id', '')
    redis.call('RPUSH', queue, id)
    redis.call('ZADD', prefix .. ':obc:' .. member, id, id)
    redis.call('ZADD', prefix .. ':ob:all', id, id)
  end
  if was_empty then
    redis.call('ZADD', prefix .. ':ob:due', now, member)
  end
end
return 1
"""
)
"""ARGV: prefix, now, event id, claim cutoff, has state, state, member, account, peer,
number of actions, then kind and payload of each action.

Returns 1, or 0 (and writes nothing of the commit) when the event id is claimed
already. A script's writes are not undone when a later command in it fails, so
every key the commit writes is checked before the first of them: a failure
(a key of another type) leaves no claim, no state and no row. Each commit first
forgets the claims and finished rows that aged out since the last one, so
nothing grows without bound even if no one calls ``expire_claims``.
"""

EXPIRE = (
    _TRIM
    + """
local removed = 0
if ARGV[3] == '1' then
  removed = redis.call('ZREMRANGEBYSCORE', ARGV[1] .. ':claims', '-inf', '(' .. ARGV[2])
end
return {removed, trim(ARGV[1], ARGV[2], tonumber(ARGV[4]))}
"""
)
"""ARGV: prefix, cutoff, also claims ('1'/'0'), rows per call. Returns {claims, rows}."""

DUE = """
local prefix, token, ms = ARGV[1], ARGV[3], ARGV[5]
local due = prefix .. ':ob:due'
local members = redis.call('ZRANGEBYSCORE', due, '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[6]))
local out = {}
local limit = tonumber(ARGV[4])
for _, member in ipairs(members) do
  if #out >= limit then break end
  local lease = prefix .. ':send:' .. member
  local holder = redis.call('GET', lease)
  local taken = not holder
  if taken then
    redis.call('SET', lease, token, 'PX', ms)
  elseif holder == token then
    redis.call('PEXPIRE', lease, ms)
  end
  if taken or holder == token then
    local queue = prefix .. ':obq:' .. member
    local head = redis.call('LINDEX', queue, 0)
    while head and redis.call('EXISTS', prefix .. ':ob:' .. head) == 0 do
      -- a row that no longer exists: skip it
      redis.call('LPOP', queue)
      head = redis.call('LINDEX', queue, 0)
    end
    if not head then
      redis.call('ZREM', due, member)
      redis.call('DEL', lease)
    elseif taken then
      table.insert(out, {head, redis.call('HGETALL', prefix .. ':ob:' .. head)})
    else
      table.insert(out, {head})
    end
  end
end
return out
"""
"""ARGV: prefix, now, send-lease token, limit, lease ms, members to look at.

Returns the head row of each due conversation whose send lease this caller
has just taken ({id, fields}) or already held ({id}: the caller has it);
other callers skip those conversations.
"""

FINISH = """
local prefix, id, token, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local row = prefix .. ':ob:' .. id
local f = redis.call('HMGET', row, 'account', 'peer', 'created')
if not f[1] then return 0 end
local member = f[1] .. ':' .. f[2]
local queue = prefix .. ':obq:' .. member
local due = prefix .. ':ob:due'
if mode == 'retry' or mode == 'uncertain' then
  redis.call('HSET', row, 'next_at', ARGV[5], 'error', ARGV[6])
  if mode == 'retry' then
    redis.call('HSET', row, 'attempted', 0)
  end
  redis.call('HINCRBY', row, 'attempts', 1)
  if redis.call('LINDEX', queue, 0) == id then
    redis.call('ZADD', due, ARGV[5], member)
  end
else
  if mode == 'sent' then
    redis.call('HSET', row, 'status', 1, 'sent_id', ARGV[5], 'error', '')
    if ARGV[5] ~= '' then
      redis.call('SET', prefix .. ':sent:' .. ARGV[5], id, 'PX', ARGV[7])
    end
  else
    redis.call('HSET', row, 'status', 2, 'error', ARGV[5], 'code', ARGV[6])
    redis.call('HINCRBY', row, 'attempts', 1)
  end
  if redis.call('LREM', queue, 1, id) > 0 then
    redis.call('ZADD', prefix .. ':ob:done', f[3], id)
    local head = redis.call('LINDEX', queue, 0)
    if head then
      local next_at = redis.call('HGET', prefix .. ':ob:' .. head, 'next_at') or f[3]
      redis.call('ZADD', due, next_at, member)
    else
      redis.call('ZREM', due, member)
    end
  end
end
local lease = prefix .. ':send:' .. member
if redis.call('GET', lease) == token then
  redis.call('DEL', lease)
end
return 1
"""
"""ARGV: prefix, row id, send-lease token, mode ('sent', 'failed', 'retry',
'uncertain'), then sent: sent id, -, ms to keep the sent-id index; failed: error,
code; retry and uncertain: next_at, error ('retry' also clears the recorded
attempt: X answered that it did not take the DM). Releases the send lease when
the caller holds it.
"""

ATTEMPT = """
local row = ARGV[1] .. ':ob:' .. ARGV[2]
if redis.call('EXISTS', row) == 0 then return 0 end
local lease, token = ARGV[4], ARGV[5]
if lease ~= '' then
  local holder = redis.call('GET', lease)
  if holder and holder ~= token then return 0 end
  -- held, or expired with nobody else taking it: this caller's (again)
  redis.call('SET', lease, token, 'PX', ARGV[6])
end
redis.call('HSET', row, 'attempted', ARGV[3])
return 1
"""
"""ARGV: prefix, row id, when the send started (0 clears it), the row's send-lease
key (empty: not handed out by due), the caller's token, lease ms. Returns 0, and
records nothing, when the row is gone or another instance holds its lease: the
caller stalled past the lease, the row is that instance's to send now."""

DELIVERED = """
local id = redis.call('GET', ARGV[1] .. ':sent:' .. ARGV[2])
if not id then return 0 end
local row = ARGV[1] .. ':ob:' .. id
if redis.call('EXISTS', row) == 0 then return 0 end
redis.call('HSET', row, 'status', 3)
return 1
"""
"""ARGV: prefix, sent id. Returns 1 when the row was found and marked delivered."""

RENEW = """
local out = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    out[i] = 1
  elseif not holder then
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
"""KEYS: leases and locks. ARGV: ms, then the token of each key.

Returns 1 per key still (or again) held, 0 per key another holder took. A
key that lapsed without anyone taking it is taken back: nobody else acted
on it, and the caller may be in the middle of what it protects.
"""

RELEASE = """
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""
"""KEYS: leases and locks. ARGV: the token of each. Deletes those the caller holds."""

ACQUIRE = """
local got = {}
for i, key in ipairs(KEYS) do
  if #got >= tonumber(ARGV[3]) then break end
  local holder = redis.call('GET', key)
  if not holder then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    table.insert(got, i)
  elseif holder == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    table.insert(got, i)
  end
end
return got
"""
"""KEYS: candidate partition leases. ARGV: token, ms, how many at most.
Returns the (1-based) positions of the leases now held."""

HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCOUNT', KEYS[1], now, '+inf')
"""
"""KEYS: the instance set. ARGV: consumer, ms. Returns how many instances are alive.

Expiry times are read from the Redis clock, so instances whose clocks
disagree still agree on who is alive.
"""
