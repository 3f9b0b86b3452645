

def test_lean_blas_runs_small_problems_on_one_blas_thread_and_restores_the_limit():
    import threading

    from threadpoolctl import threadpool_info

    from ibviewer.core.embedding.checks import lean_blas

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    inside: list[list[int]] = []
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:  # a concurrent user keeps the limit until it leaves too
        with lean_blas(100):
            entered.set()
            leave.wait(10)

    worker = threading.Thread(target=other)
    worker.start()
    entered.wait(10)
    with lean_blas(100):
        inside.append(blas_threads())
    inside.append(blas_threads())  # the other thread is still inside
    leave.set()
    worker.join()
    assert all(n == 1 for n in inside[0] + inside[1])
    assert blas_threads() == before
