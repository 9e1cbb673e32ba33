from parlance.cli import app

if __name__ == "__main__":  # engine processes are spawned: they import this module without running the CLI
    app()
