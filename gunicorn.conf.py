"""How gunicorn serves Coprod: read from the working directory by `gunicorn coprod:create_app()`
(the image's command, docker-compose.yml's web, bench/http.py's servers). Options given on
the command line take precedence (the bench gives its own --bind, --workers, access log).
"""

bind = "0.0.0.0:8000"
workers = 3
accesslog = "-"

# Threads per worker: a request waiting on PostgreSQL (a round trip, a commit's WAL flush)
# leaves the CPU to the worker's other thread. Four were tried (bench/http.py, 40 reflections):
# posting gained in one set of runs and not in the next (0.24, 0.25, 0.24 and 0.20, 0.19,
# 0.21 of the bare baseline, against 0.24, 0.24, 0.23 and 0.24, 0.24, 0.24 with two), and the
# feed page's p99 passed 50 ms in 6 runs of 10 (with two, in none of 4 in the same harness):
# more threads queue for the one interpreter lock.
threads = 2

# Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new
# connections over them. On one socket shared by all workers, whichever worker's main thread
# called accept() first took the connection: a burst of keep-alive connections (a reverse
# proxy's upstream pool, wrk's eight) went all to one worker in 9 runs of 16 here, and with
# one worker's Python doing all the work the other cores stood idle (tests/test_serving.py).
reuse_port = True
