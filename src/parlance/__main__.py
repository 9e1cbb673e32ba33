from parlance.cli import app

app()
