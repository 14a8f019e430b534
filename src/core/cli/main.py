import click

@click.group()
def cli():
    """leadsync"""

def main():
    cli()
