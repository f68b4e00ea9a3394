from enum import StrEnum


class RequiredScope(StrEnum):
    ANALYTICSREAD = "analytics:read"
    APPMANAGE = "app:manage"
    APPREAD = "app:read"
    CHANNELSMANAGE = "channels:manage"
    CHANNELSREAD = "channels:read"
    CONNECTIONSMANAGE = "connections:manage"
    CONNECTIONSREAD = "connections:read"
    ENCRYPTIONMANAGE = "encryption:manage"
    EVENTSBATCH = "events:batch"
    EVENTSPUBLISH = "events:publish"
    FUNCTIONSMANAGE = "functions:manage"
    METRICSREAD = "metrics:read"
    PRESENCEREAD = "presence:read"
    REPOADMIN = "repo:admin"
    REPOREAD = "repo:read"
    REPOWRITE = "repo:write"
    SCHEMASMANAGE = "schemas:manage"
    SCHEMASREAD = "schemas:read"
    TOKENSMANAGE = "tokens:manage"
    TOKENSREAD = "tokens:read"
    TOKENSVERIFY = "tokens:verify"
    WEBHOOKSMANAGE = "webhooks:manage"

    def __str__(self) -> str:
        return str(self.value)
