"""The local web service: the pipeline over HTTP for a frontend, safe on a laptop.

    from anonymizer.api.app import create_app        # the FastAPI application
    from anonymizer.api.server import serve          # run it with uvicorn
    from anonymizer.api.settings import Settings     # host, port, limits, workers, origins
"""
