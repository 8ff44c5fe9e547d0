"""`python -m batchite`: the `batchite` command."""

from batchite.cli.main import app

if __name__ == "__main__":
    app(prog_name="batchite")
