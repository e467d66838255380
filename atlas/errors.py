"""The exceptions of token atlas: one base class, one small subclass per failure a user can act on."""


class AtlasError(Exception):
    """Base class: every failure the CLI turns into one line on stderr."""


class SourceNotFound(AtlasError):
    """The embedding source (model id or folder) cannot be found or read."""


class EmbeddingsIncomplete(AtlasError):
    """The model's weights hold no trained input embedding, or fewer rows than its tokenizer has tokens."""


class TokenizerUnavailable(AtlasError):
    """The model's tokenizer cannot be loaded from its recorded source."""


class Neo4jUnavailable(AtlasError):
    """Neo4j does not answer at the configured URI."""


class Neo4jNotAnswering(Neo4jUnavailable):
    """Neo4j keeps its connections open but sent no reply within the deadline (a frozen or stalled server)."""


class AuthenticationFailed(AtlasError):
    """Neo4j refused the configured user name or password."""


class PasswordMissing(AtlasError):
    """No Neo4j password was given and none is kept for that server."""


class DatabaseFailed(AtlasError):
    """Neo4j's database stopped working (most often its disk is full) and needs a restart."""


class ModelNotLoaded(AtlasError):
    """No model of that name is stored in Neo4j."""


class ModelIncomplete(AtlasError):
    """The model's load has not finished (status is not ``complete``)."""


class ModelExists(AtlasError):
    """A complete model of that name is already stored and ``replace`` was not asked for."""


class TokenNotFound(AtlasError):
    """The token text is not in the model's vocabulary."""


class InvalidArgument(AtlasError):
    """A value given by the user is out of range or malformed."""


class LauncherError(AtlasError):
    """The local Neo4j server cannot be provisioned, started or stopped."""


class ExportError(AtlasError):
    """A subgraph cannot be written in the requested format."""


class ModelBusy(AtlasError):
    """Another load or analysis of the same model name is running."""


class ModelInconsistent(AtlasError):
    """A stored model's graph is not what its load promised (wrong edge or token counts)."""


class AnalysisMissing(AtlasError):
    """The model has no complete analysis (communities, hubs, map positions) yet."""


class ExpressionError(AtlasError):
    """An expression of tokens (``atlas near``) is malformed or has no direction."""


class NoRoom(AtlasError):
    """Neo4j's disk or page cache cannot hold what was asked to be stored."""


class ReferenceEmpty(AtlasError):
    """The under-training score has no reference: no token is declared unused, none is unreachable, none was given."""


class NoTokenHead(AtlasError):
    """The model has no head that predicts the next token, so it cannot be asked to repeat a token."""


class PromptUnavailable(AtlasError):
    """The prompt that asks the model to repeat a token cannot be built with its tokenizer."""
