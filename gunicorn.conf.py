"""How gunicorn serves Coprod: read from the working directory by `gunicorn coprod:create_app()`
(the image's command, docker-compose.yml's web, bench/http.py's servers). Options given on
the command line take precedence (the bench gives its own --bind, --workers, access log).
"""

bind = "0.0.0.0:8000"
workers = 3
accesslog = "-"

# Threads per worker. A request that waits on PostgreSQL (a round trip, a commit's WAL flush)
# holds its thread, not the CPU: with two, both of a worker's threads were often waiting at
# once while posts came in, and a posting run left the machine 5 to 9 % idle. With four,
# posting's req/s rose to its CPU's share (bench/http.py, 40 reflections: 0.23-0.24 of the
# bare baseline with two, 0.24-0.26 with four, the baseline served alike), and reading pages,
# whose requests barely wait, did not change. Each thread holds at most one of the pool's
# connections (SQLAlchemy's default pool: 5, and 10 more on demand).
threads = 4

# Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new
# connections over them. On one socket shared by all workers, whichever worker's main thread
# called accept() first took the connection: a burst of keep-alive connections (a reverse
# proxy's upstream pool, wrk's eight) went all to one worker in 9 runs of 16 here, and with
# one worker's Python doing all the work the other cores stood idle (tests/test_serving.py).
reuse_port = True
