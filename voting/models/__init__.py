"""SQLAlchemy models. Importing this package registers every table on `Base.metadata`."""

from voting.models.ballots import Ballot, Channel, CountedBallot, MotionResult, Proxy
from voting.models.base import Base, utcnow
from voting.models.cards import Card, CardKind, CardStatus, IssuerKey, LoginChallenge
from voting.models.log import Checkpoint, LogEntry, LogHead, LogNode
from voting.models.meetings import Meeting, Motion, MotionOption, Rules
from voting.models.paper import PaperEntry, PaperResolution, PaperSheet
from voting.models.roll import (
    AreaSource,
    Building,
    Holder,
    HolderKind,
    RollEntry,
    RollUpload,
    RollVersion,
    Unit,
    UnitStatus,
)
from voting.models.tenancy import Community, District, PropertyArea, Street
from voting.models.users import Role, User, WebSession

__all__ = [
    "AreaSource",
    "Ballot",
    "Base",
    "Building",
    "Card",
    "CardKind",
    "CardStatus",
    "Channel",
    "Checkpoint",
    "Community",
    "CountedBallot",
    "District",
    "Holder",
    "HolderKind",
    "IssuerKey",
    "LogEntry",
    "LogHead",
    "LogNode",
    "LoginChallenge",
    "Meeting",
    "Motion",
    "MotionOption",
    "MotionResult",
    "PaperEntry",
    "PaperResolution",
    "PaperSheet",
    "PropertyArea",
    "Proxy",
    "Role",
    "RollEntry",
    "RollUpload",
    "RollVersion",
    "Rules",
    "Street",
    "Unit",
    "UnitStatus",
    "User",
    "WebSession",
    "utcnow",
]
