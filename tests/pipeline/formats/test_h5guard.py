"""A damaged file that crashes the HDF5 C library is refused with a FormatError (exit 2); it
does not take the process down."""
import os
import random
import signal

import pytest

import zoo
from snnpipe.pipeline.cli.main import main
from snnpipe.pipeline.formats import hdf5
from snnpipe.pipeline.formats.h5guard import probe
from snnpipe.pipeline.ir.errors import FormatError


def test_a_read_that_crashes_is_a_format_error_naming_the_file(tmp_path):
    path = tmp_path / "net.h5"
    with pytest.raises(FormatError, match="crashed.*SIGSEGV") as e:
        probe(path, lambda p: os.kill(os.getpid(), signal.SIGSEGV))
    assert "net.h5" in str(e.value)


def test_a_read_that_raises_is_left_to_the_caller(tmp_path):
    assert probe(tmp_path / "net.h5", lambda p: 1 / 0) is None


def test_a_file_whose_flipped_bytes_crash_libhdf5_exits_2(tmp_path, capsys):
    """Flipped bytes of the zoo's conv network that segfault h5py 3.16 / HDF5 2.0.0 while it
    reads a corrupted string (the hypothesis fuzz test crashed a pytest worker with such a
    file). Whether or not this HDF5 crashes on it, the answer is a FormatError."""
    data = tmp_path / "base.h5"
    hdf5.export(zoo.sequential_conv(0), data)
    b = bytearray(data.read_bytes())
    rng = random.Random(39)
    for _ in range(rng.randint(1, 8)):
        b[rng.randrange(len(b))] ^= rng.randint(1, 255)
    path = tmp_path / "damaged.h5"
    path.write_bytes(bytes(b))
    with pytest.raises(FormatError, match="damaged.h5"):
        hdf5.load(path)
    assert main(["inspect", str(path)]) == 2
    assert "damaged.h5" in capsys.readouterr().err
