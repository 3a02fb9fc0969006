-- wrk script: POST the comment form with a new text and email every time (the duplicate
-- and first-comment rules see a new commenter), counting the 303s (acknowledged comments).
-- Set by the runner: BENCH_PATH, BENCH_FIELDS (the form's hidden fields, urlencoded) and
-- BENCH_RUN (unique per run: wrk's random numbers repeat from run to run).
-- Counters are globals: done() reads them from each thread with thread:get().
local path = os.getenv("BENCH_PATH")
local fields = os.getenv("BENCH_FIELDS")
local run = os.getenv("BENCH_RUN") or "0"
counter = 0
acknowledged = 0
others = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  -- Each acknowledged comment's id, from the Location of its 303, for the runner to find.
  acknowledged_ids = io.open(os.getenv("BENCH_OUT") .. "/" .. run .. "-" .. id, "w")
end

function request()
  counter = counter + 1
  local tag = run .. "x" .. id .. "x" .. counter
  local body = fields .. "&author=Bench+" .. tag .. "&email=b" .. tag .. "%40example.org"
    .. "&comment=Benchmark+comment+" .. tag .. "+with+a+few+words+in+it."
  return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
  if status == 303 then
    acknowledged = acknowledged + 1
    acknowledged_ids:write(string.match(headers["Location"] or "", "#comment%-(%d+)") or "?", "\n")
    acknowledged_ids:flush()
  else
    others = others + 1
  end
end

function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("acknowledged")
    bad = bad + thread:get("others")
  end
  io.write(string.format("ACKNOWLEDGED %d\nOTHERS %d\n", total, bad))
end
