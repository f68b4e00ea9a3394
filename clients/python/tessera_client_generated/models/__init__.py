"""Contains all the data models used in inputs/outputs"""

from .access_type import AccessType
from .audit_actor import AuditActor
from .audit_break import AuditBreak
from .audit_entry_view import AuditEntryView
from .audit_entry_view_details import AuditEntryViewDetails
from .audit_list import AuditList
from .audit_verification import AuditVerification
from .catalogue import Catalogue
from .create_token_request import CreateTokenRequest
from .create_token_request_access_type_1 import CreateTokenRequestAccessType1
from .create_token_request_access_type_2_type_1 import CreateTokenRequestAccessType2Type1
from .create_token_request_access_type_3_type_1 import CreateTokenRequestAccessType3Type1
from .create_token_request_meta_type_0 import CreateTokenRequestMetaType0
from .create_webhook_request import CreateWebhookRequest
from .created_token import CreatedToken
from .created_webhook import CreatedWebhook
from .credits_body import CreditsBody
from .credits_view import CreditsView
from .delivery_list import DeliveryList
from .delivery_view import DeliveryView
from .delivery_view_payload import DeliveryViewPayload
from .healthz_response_200 import HealthzResponse200
from .introspection import Introspection
from .leak_label import LeakLabel
from .leak_report import LeakReport
from .leak_verdict import LeakVerdict
from .missing import Missing
from .openapi_document_response_200 import OpenapiDocumentResponse200
from .presented_token_form import PresentedTokenForm
from .problem import Problem
from .problem_code import ProblemCode
from .profile_info import ProfileInfo
from .rate_limit_body_type_0 import RateLimitBodyType0
from .rate_limit_body_type_0_profile import RateLimitBodyType0Profile
from .rate_limit_body_type_1 import RateLimitBodyType1
from .rate_limit_state import RateLimitState
from .rate_limit_view import RateLimitView
from .readyz_response_200 import ReadyzResponse200
from .refill_body import RefillBody
from .refill_every import RefillEvery
from .refill_view import RefillView
from .repo_key_created import RepoKeyCreated
from .repo_key_request import RepoKeyRequest
from .repo_token_created import RepoTokenCreated
from .repo_token_info import RepoTokenInfo
from .repo_token_request import RepoTokenRequest
from .required_scope import RequiredScope
from .rotate_request import RotateRequest
from .scope_info import ScopeInfo
from .scope_pattern import ScopePattern
from .stream_reset import StreamReset
from .token_change import TokenChange
from .token_list import TokenList
from .token_view import TokenView
from .token_view_meta_type_0 import TokenViewMetaType0
from .update_token_request import UpdateTokenRequest
from .update_token_request_access_type_1 import UpdateTokenRequestAccessType1
from .update_token_request_access_type_2_type_1 import UpdateTokenRequestAccessType2Type1
from .update_token_request_access_type_3_type_1 import UpdateTokenRequestAccessType3Type1
from .update_token_request_meta_type_0 import UpdateTokenRequestMetaType0
from .update_webhook_request import UpdateWebhookRequest
from .usage_bucket_view import UsageBucketView
from .usage_left import UsageLeft
from .usage_report import UsageReport
from .verify_code import VerifyCode
from .verify_request import VerifyRequest
from .verify_response import VerifyResponse
from .verify_response_meta_type_0 import VerifyResponseMetaType0
from .webhook_list import WebhookList
from .webhook_view import WebhookView

__all__ = (
    "AccessType",
    "AuditActor",
    "AuditBreak",
    "AuditEntryView",
    "AuditEntryViewDetails",
    "AuditList",
    "AuditVerification",
    "Catalogue",
    "CreatedToken",
    "CreatedWebhook",
    "CreateTokenRequest",
    "CreateTokenRequestAccessType1",
    "CreateTokenRequestAccessType2Type1",
    "CreateTokenRequestAccessType3Type1",
    "CreateTokenRequestMetaType0",
    "CreateWebhookRequest",
    "CreditsBody",
    "CreditsView",
    "DeliveryList",
    "DeliveryView",
    "DeliveryViewPayload",
    "HealthzResponse200",
    "Introspection",
    "LeakLabel",
    "LeakReport",
    "LeakVerdict",
    "Missing",
    "OpenapiDocumentResponse200",
    "PresentedTokenForm",
    "Problem",
    "ProblemCode",
    "ProfileInfo",
    "RateLimitBodyType0",
    "RateLimitBodyType0Profile",
    "RateLimitBodyType1",
    "RateLimitState",
    "RateLimitView",
    "ReadyzResponse200",
    "RefillBody",
    "RefillEvery",
    "RefillView",
    "RepoKeyCreated",
    "RepoKeyRequest",
    "RepoTokenCreated",
    "RepoTokenInfo",
    "RepoTokenRequest",
    "RequiredScope",
    "RotateRequest",
    "ScopeInfo",
    "ScopePattern",
    "StreamReset",
    "TokenChange",
    "TokenList",
    "TokenView",
    "TokenViewMetaType0",
    "UpdateTokenRequest",
    "UpdateTokenRequestAccessType1",
    "UpdateTokenRequestAccessType2Type1",
    "UpdateTokenRequestAccessType3Type1",
    "UpdateTokenRequestMetaType0",
    "UpdateWebhookRequest",
    "UsageBucketView",
    "UsageLeft",
    "UsageReport",
    "VerifyCode",
    "VerifyRequest",
    "VerifyResponse",
    "VerifyResponseMetaType0",
    "WebhookList",
    "WebhookView",
)
