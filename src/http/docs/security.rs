//! The security schemes the description declares, and the organization key as the default requirement.

use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::Modify;

/// Security scheme names used in the handlers' `security(...)`.
pub const KEY_SCHEME: &str = "api_key";
pub const ADMIN_SCHEME: &str = "admin_bearer";
pub const METRICS_SCHEME: &str = "metrics_bearer";
pub const SESSION_SCHEME: &str = "session";

/// Adds the security schemes and makes the organization key the default requirement.
pub struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut key = ApiKeyValue::new(crate::http::extract::KEY_HEADER);
        key.description = Some("The organization's API key (`slk_…`).".into());
        components.add_security_scheme(KEY_SCHEME, SecurityScheme::ApiKey(ApiKey::Header(key)));
        components.add_security_scheme(
            ADMIN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator token (`admin.token`). The operator API answers 404 when none is configured.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An end user's session token: a JWT (HS256) the organization signed with one of its signing secrets (`kid` in the header), naming the end user. Accepted by the cancel flow's routes only; identity then comes from the token.",
                    ))
                    .build(),
            ),
        );
        // Unless an operation says otherwise, it takes the organization's key.
        openapi.security = Some(vec![SecurityRequirement::new::<_, _, &str>(KEY_SCHEME, [])]);
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            METRICS_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`metrics.token`, only when it is set."))
                    .build(),
            ),
        );
    }
}
