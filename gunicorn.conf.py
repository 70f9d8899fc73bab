"""How gunicorn serves Coprod: read from the working directory by `gunicorn coprod:create_app()`
(the image's command, docker-compose.yml's web, bench/http.py's servers). Options given on
the command line take precedence (the bench gives its own --bind, --workers, access log).
"""

bind = "0.0.0.0:8000"
workers = 3
accesslog = "-"

# Threads per worker: a request waiting on PostgreSQL (a round trip, a commit's WAL flush)
# leaves the CPU to the worker's other thread. Four were tried (bench/http.py, 40 reflections):
# posting gained nothing that held from one run to the next (0.23-0.26 of the bare baseline
# against 0.23-0.24, one run 0.19-0.21), and reading pages answered their slowest requests
# later (p99 50-330 ms against 13-24 ms: more threads queue for the one interpreter lock).
threads = 2

# Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new
# connections over them. On one socket shared by all workers, whichever worker's main thread
# called accept() first took the connection: a burst of keep-alive connections (a reverse
# proxy's upstream pool, wrk's eight) went all to one worker in 9 runs of 16 here, and with
# one worker's Python doing all the work the other cores stood idle (tests/test_serving.py).
reuse_port = True
