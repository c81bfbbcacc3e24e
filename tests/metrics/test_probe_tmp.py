import sys
def test_probe():
    print([p for p in sys.path][:6])
    import conftest
    print(conftest.__file__, conftest.__name__, [k for k in sys.modules if 'conftest' in k])
