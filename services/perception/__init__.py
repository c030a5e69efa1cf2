"""The perception service: FastAPI app serving the champion model to many camera streams.

``create_app(settings)`` builds the app; ``percept serve`` runs it under uvicorn.
"""
