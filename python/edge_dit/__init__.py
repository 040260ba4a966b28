"""The project's Python definitions that several scripts share, each written once.

    dit      the DiT in PyTorch (demo models, converter fixtures, test oracle, benchmark peer)
    metrics  psnr() (NumPy only, so benchmark scripts without PyTorch can import it)

Nothing is installed: a script puts this folder (<repo>/python) on sys.path first, e.g.
    sys.path.insert(0, os.path.join(REPO_ROOT, "python"))
"""
