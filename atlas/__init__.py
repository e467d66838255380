"""token atlas: exact nearest-neighbour graphs of token embeddings, stored in Neo4j.

The library's face is :class:`Atlas`::

    from atlas import Atlas

    atlas = Atlas()                       # the local server (`atlas db start`); uri=... for another
    atlas.load()                          # the bundled all-MiniLM-L6-v2: exact neighbours, analysed
    atlas.neighbours("cat", k=5)          # a table that prints, converts (to_dict, to_pandas) and saves
    atlas.near("king - man + woman")      # queen first
    atlas["all-MiniLM-L6-v2"].hubs()      # a model's handle: the same methods, on that model

The local Neo4j server is :mod:`atlas.db`. Below the face, packages import downwards
only (an import-linter contract in pyproject.toml keeps it so): ``cli`` on ``api``, on
``loaders`` (the load pipeline) and ``views`` (what the commands show), which return
``results`` (what the library returns), on ``pages`` (exports and the map page) and
``server`` (the local Neo4j and the guide server), on ``graph`` (Neo4j), on ``files``
(model files, outputs), on ``core`` (pure computation), on ``settings`` and ``errors``.
"""

from atlas.api import Atlas, Model, connection_settings
from atlas.core.load_options import CorpusOptions, LoadOptions
from atlas.errors import (
    AnalysisMissing,
    AtlasError,
    AuthenticationFailed,
    DatabaseFailed,
    EmbeddingsIncomplete,
    ExportError,
    ExpressionError,
    InvalidArgument,
    LauncherError,
    ModelBusy,
    ModelExists,
    ModelIncomplete,
    ModelInconsistent,
    ModelNotLoaded,
    Neo4jNotAnswering,
    Neo4jUnavailable,
    NoRoom,
    NoTokenHead,
    PasswordMissing,
    PromptUnavailable,
    ReferenceEmpty,
    SourceNotFound,
    TokenizerUnavailable,
    TokenNotFound,
)
from atlas.results import (
    AnalysisReport,
    Comparison,
    Context,
    Deleted,
    Graph,
    Hubs,
    Loaded,
    LoadReport,
    Map,
    Models,
    Nearest,
    Neighbours,
    RepeatCheck,
    Rows,
    Table,
    TokenTable,
    Untrained,
    VariantGroup,
    VectorsReport,
)
from atlas.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "AnalysisMissing",
    "AnalysisReport",
    "Atlas",
    "AtlasError",
    "AuthenticationFailed",
    "Comparison",
    "Context",
    "CorpusOptions",
    "DatabaseFailed",
    "Deleted",
    "EmbeddingsIncomplete",
    "ExportError",
    "ExpressionError",
    "Graph",
    "Hubs",
    "InvalidArgument",
    "LauncherError",
    "LoadOptions",
    "LoadReport",
    "Loaded",
    "Map",
    "Model",
    "ModelBusy",
    "ModelExists",
    "ModelIncomplete",
    "ModelInconsistent",
    "ModelNotLoaded",
    "Models",
    "Nearest",
    "Neighbours",
    "Neo4jNotAnswering",
    "Neo4jUnavailable",
    "NoRoom",
    "NoTokenHead",
    "PasswordMissing",
    "PromptUnavailable",
    "ReferenceEmpty",
    "RepeatCheck",
    "Rows",
    "Settings",
    "SourceNotFound",
    "Table",
    "TokenNotFound",
    "TokenTable",
    "TokenizerUnavailable",
    "Untrained",
    "VariantGroup",
    "VectorsReport",
    "__version__",
    "connection_settings",
]
