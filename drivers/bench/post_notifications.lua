-- POST /notifications with the bearer token and a unique Idempotency-Key per request, so every
-- request stores a new job.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

local n = 0
request = function()
  n = n + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. BENCH_TOKEN,
    ["Idempotency-Key"] = string.format("bench-%s-%d-%d", BENCH_RUN, thread_no, n),
  }
  local body = string.format(
    '{"email":"person%d@example.org","subject":"Invitation %d",' ..
    '"message":"You are invited to the meeting on Monday at 10:00.\\nSee you there!"}', n, n)
  return wrk.format("POST", "/notifications", headers, body)
end
