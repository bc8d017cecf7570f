-- wrk script for make load with SESSIONS (scripts/load.sh): each request
-- carries the next of the Cookie headers in the file named by the first
-- argument after --, in turn, so that a run visits many users' sessions.
-- The requests are formatted once, at start, so that what wrk spends per
-- request is a table lookup. The argument "-" sends no cookie (the same
-- client cost, for the routes without a session).
local reqs, i = {}, 0

function init(args)
	local file = args[1]
	if file == nil then
		error("sessions.lua: name a file of Cookie headers, or -, after --")
	end
	if file == "-" then
		reqs[1] = wrk.format("GET", wrk.path)
		return
	end
	for line in io.lines(file) do
		reqs[#reqs + 1] = wrk.format("GET", wrk.path, { Cookie = line })
	end
	if #reqs == 0 then
		error("sessions.lua: no Cookie headers in " .. file)
	end
end

function request()
	i = i % #reqs + 1
	return reqs[i]
end
