-- wrk script of rapport-bench: replays the requests of a plan file, in order, cycling.
--
-- Plan file (tab-separated, written by rapport-bench):
--   T <token>                          a bearer token; the first is token 1
--   R <method> <path> <token> <if-match> <body>
-- <if-match> is "-" for none, or "+" for the version this run has left the record at: each
-- PATCH line names a record no other line names, so its version is 1 + the rounds done.
-- <body> is "-" for none; in a body, {n} becomes a number unique in this run.
-- Arguments after `--`: the plan file.

local tokens = {}
local plan = {}
local position = 1
local round = 0
local counter = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local fields = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      table.insert(fields, field)
    end
    if fields[1] == "T" then
      table.insert(tokens, "Bearer " .. fields[2])
    elseif fields[1] == "R" then
      table.insert(plan, {
        method = fields[2],
        path = fields[3],
        token = tonumber(fields[4]),
        if_match = fields[5],
        body = fields[6],
      })
    end
  end
  file:close()
  assert(#plan > 0, "the plan holds no request")
end

function request()
  local r = plan[position]
  local headers = { ["Authorization"] = tokens[r.token] }
  if r.if_match == "+" then
    headers["If-Match"] = '"' .. (1 + round) .. '"'
  end
  position = position + 1
  if position > #plan then
    position = 1
    round = round + 1
  end
  local body = nil
  if r.body ~= "-" then
    counter = counter + 1
    body = r.body:gsub("{n}", string.format("%08d", counter))
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(r.method, r.path, headers, body)
end

-- One JSON line on stdout, read by rapport-bench.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
