""" Contains all the data models used in inputs/outputs """

from .alert_out import AlertOut
from .alert_out_labels import AlertOutLabels
from .audit_record_out import AuditRecordOut
from .audit_record_out_detail import AuditRecordOutDetail
from .create_key_in import CreateKeyIn
from .error_body import ErrorBody
from .error_detail import ErrorDetail
from .health_out import HealthOut
from .key_out import KeyOut
from .model_out import ModelOut
from .new_key_out import NewKeyOut
from .quota_out import QuotaOut
from .rollout_out import RolloutOut
from .rollout_out_checks import RolloutOutChecks
from .rotate_key_in import RotateKeyIn
from .route_out import RouteOut
from .set_weights_in import SetWeightsIn
from .tenant_out import TenantOut
from .usage_out import UsageOut
from .usage_row_out import UsageRowOut
from .weight_in import WeightIn
from .weight_out import WeightOut
from .who_am_i import WhoAmI

__all__ = (
    "AlertOut",
    "AlertOutLabels",
    "AuditRecordOut",
    "AuditRecordOutDetail",
    "CreateKeyIn",
    "ErrorBody",
    "ErrorDetail",
    "HealthOut",
    "KeyOut",
    "ModelOut",
    "NewKeyOut",
    "QuotaOut",
    "RolloutOut",
    "RolloutOutChecks",
    "RotateKeyIn",
    "RouteOut",
    "SetWeightsIn",
    "TenantOut",
    "UsageOut",
    "UsageRowOut",
    "WeightIn",
    "WeightOut",
    "WhoAmI",
)
