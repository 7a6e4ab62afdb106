//! IAM facts of the account: credential report, password policy, account
//! summary, MFA devices, users (with their keys, MFA, policies, groups and
//! console password), groups, roles, policies with their documents, the
//! support role and server certificates.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::{AttachedPolicy, Group, Policy, PolicyScopeType, ReportStateType, Role, User};
use aws_sdk_iam::Client;
use chrono::SecondsFormat;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::sdk::{
    all_items, all_ok, all_pages, bounded, call, client, opt_str, sdk_reason, timestamp, Ctx, Planned, Unread,
};

const SERVICE: &str = "iam";

/// How long to wait for IAM to produce the credential report.
const REPORT_WAIT: Duration = Duration::from_secs(30);
/// Pause between two looks at a credential report being generated.
const REPORT_POLL: Duration = Duration::from_secs(2);

pub(super) fn plan(ctx: &Arc<Ctx>, key: &str) -> Option<Planned> {
    let client = client!(aws_sdk_iam, ctx, ctx.global_region);
    let ctx = Arc::clone(ctx);
    let planned = match key {
        "aws.iam.credential_report" => Planned::new(
            SERVICE,
            "GenerateCredentialReport+GetCredentialReport",
            None,
            async move { credential_report(&client).await },
        ),
        "aws.iam.password_policy" => {
            Planned::new(SERVICE, "GetAccountPasswordPolicy", None, async move { password_policy(&client).await })
        }
        "aws.iam.account_summary" => {
            Planned::new(SERVICE, "GetAccountSummary", None, async move { account_summary(&client).await })
        }
        "aws.iam.virtual_mfa_devices" => {
            Planned::new(SERVICE, "ListVirtualMFADevices", None, async move { virtual_mfa_devices(&client).await })
        }
        "aws.iam.users" => Planned::new(
            SERVICE,
            "ListUsers+ListMFADevices+ListAccessKeys+GetAccessKeyLastUsed+ListAttachedUserPolicies+ListUserPolicies+ListGroupsForUser+GetLoginProfile",
            None,
            async move { users(&client, &ctx).await },
        ),
        "aws.iam.groups" => Planned::new(
            SERVICE,
            "ListGroups+ListAttachedGroupPolicies+ListGroupPolicies",
            None,
            async move { groups(&client, &ctx).await },
        ),
        "aws.iam.roles" => {
            Planned::new(SERVICE, "ListRoles+ListAttachedRolePolicies", None, async move { roles(&client, &ctx).await })
        }
        "aws.iam.policies" => {
            Planned::new(SERVICE, "ListPolicies+GetPolicyVersion", None, async move { policies(&client, &ctx).await })
        }
        "aws.iam.support_role" => {
            Planned::new(SERVICE, "ListEntitiesForPolicy", None, async move { support_role(&client, &ctx).await })
        }
        "aws.iam.server_certificates" => {
            Planned::new(SERVICE, "ListServerCertificates", None, async move { server_certificates(&client).await })
        }
        _ => return None,
    };
    Some(planned)
}

// ---- credential report -----------------------------------------------------

/// GetCredentialReport codes that mean "not ready yet, ask again".
const REPORT_NOT_READY: &[&str] = &["ReportNotPresent", "ReportInProgress", "ReportExpired"];

async fn credential_report(client: &Client) -> Result<Value, String> {
    let deadline = Instant::now() + REPORT_WAIT;
    loop {
        let what = call(SERVICE, "GenerateCredentialReport", None);
        let generated = client.generate_credential_report().send().await.map_err(|err| sdk_reason(&what, &err))?;
        let ready = !matches!(generated.state(), Some(ReportStateType::Started) | Some(ReportStateType::Inprogress));
        if ready {
            let what = call(SERVICE, "GetCredentialReport", None);
            match client.get_credential_report().send().await {
                Ok(report) => {
                    let content = report.content().map(|blob| blob.as_ref()).unwrap_or_default();
                    let text =
                        std::str::from_utf8(content).map_err(|_| format!("{what}: the report is not UTF-8 text"))?;
                    let entries = parse_credential_report(text).map_err(|problem| format!("{what}: {problem}"))?;
                    return Ok(json!({
                        "generated_time": timestamp(report.generated_time()),
                        "entries": entries,
                    }));
                }
                Err(err) if err.code().is_some_and(|code| REPORT_NOT_READY.contains(&code)) => {}
                Err(err) => return Err(sdk_reason(&what, &err)),
            }
        }
        if Instant::now() + REPORT_POLL > deadline {
            return Err(format!(
                "{}: the credential report was still not ready after {} s",
                call(SERVICE, "GetCredentialReport", None),
                REPORT_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(REPORT_POLL).await;
    }
}

/// Columns of the credential report that hold booleans.
const BOOLEAN_COLUMNS: &[&str] =
    &["password_enabled", "mfa_active", "access_key_1_active", "access_key_2_active", "cert_1_active", "cert_2_active"];

/// Values that mean "no value" in the credential report.
const NULL_VALUES: &[&str] = &["N/A", "not_supported", "no_information", ""];

/// The credential report CSV as one JSON object per row, keyed by the header:
/// booleans for the `*_active`/`*_enabled` columns, RFC 3339 UTC timestamps,
/// `null` for "N/A", "not_supported", "no_information" and empty cells.
pub(super) fn parse_credential_report(text: &str) -> Result<Vec<Value>, String> {
    let rows = parse_csv(text)?;
    let mut rows = rows.into_iter();
    let Some(header) = rows.next() else {
        return Err("the credential report is empty (no header line)".to_string());
    };
    if !header.iter().any(|column| column == "user") {
        return Err(format!("the credential report has no `user` column (header: {})", header.join(",")));
    }
    let mut entries = Vec::new();
    for (index, row) in rows.enumerate() {
        if row.len() == 1 && row[0].is_empty() {
            continue;
        }
        if row.len() != header.len() {
            return Err(format!(
                "line {} of the credential report has {} fields, the header {}",
                index + 2,
                row.len(),
                header.len()
            ));
        }
        let mut entry = Map::new();
        for (column, cell) in header.iter().zip(row) {
            entry.insert(column.clone(), report_cell(column, cell));
        }
        entries.push(Value::Object(entry));
    }
    Ok(entries)
}

fn report_cell(column: &str, cell: String) -> Value {
    if NULL_VALUES.contains(&cell.as_str()) {
        return Value::Null;
    }
    if BOOLEAN_COLUMNS.contains(&column) {
        return match cell.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(cell),
        };
    }
    if is_time_column(column) {
        if let Ok(time) = chrono::DateTime::parse_from_rfc3339(&cell) {
            return Value::String(time.with_timezone(&chrono::Utc).to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
    }
    Value::String(cell)
}

fn is_time_column(column: &str) -> bool {
    ["_time", "_last_used", "_last_changed", "_next_rotation", "_last_rotated", "_last_used_date"]
        .iter()
        .any(|suffix| column.ends_with(suffix))
}

/// RFC 4180 CSV: fields separated by commas, records by CRLF or LF, fields
/// optionally quoted with `"` (a doubled quote inside is one quote).
pub(super) fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut line = 1;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(format!("unterminated quoted field at line {line} of the CSV"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

// ---- account settings ------------------------------------------------------

async fn password_policy(client: &Client) -> Result<Value, String> {
    let what = call(SERVICE, "GetAccountPasswordPolicy", None);
    let output = match client.get_account_password_policy().send().await {
        Ok(output) => output,
        Err(err) if err.code() == Some("NoSuchEntity") => return Ok(json!({ "configured": false })),
        Err(err) => return Err(sdk_reason(&what, &err)),
    };
    let Some(policy) = output.password_policy() else {
        return Ok(json!({ "configured": false }));
    };
    Ok(json!({
        "configured": true,
        "minimum_password_length": policy.minimum_password_length(),
        "password_reuse_prevention": policy.password_reuse_prevention(),
        "require_symbols": policy.require_symbols(),
        "require_numbers": policy.require_numbers(),
        "require_uppercase_characters": policy.require_uppercase_characters(),
        "require_lowercase_characters": policy.require_lowercase_characters(),
        "allow_users_to_change_password": policy.allow_users_to_change_password(),
        "max_password_age": policy.max_password_age(),
        "hard_expiry": policy.hard_expiry(),
        "expire_passwords": policy.expire_passwords(),
    }))
}

async fn account_summary(client: &Client) -> Result<Value, String> {
    let what = call(SERVICE, "GetAccountSummary", None);
    let output = client.get_account_summary().send().await.map_err(|err| sdk_reason(&what, &err))?;
    let summary: BTreeMap<&str, i32> = output
        .summary_map()
        .map(|map| map.iter().map(|(key, value)| (key.as_str(), *value)).collect())
        .unwrap_or_default();
    if summary.is_empty() {
        return Err(format!("{what}: the answer has no summary map"));
    }
    Ok(json!(summary))
}

async fn virtual_mfa_devices(client: &Client) -> Result<Value, String> {
    let what = call(SERVICE, "ListVirtualMFADevices", None);
    let devices = all_items!(client.list_virtual_mfa_devices(), what)?;
    let devices = devices
        .iter()
        .map(|device| {
            json!({
                "serial_number": device.serial_number(),
                "user_arn": opt_str(device.user().map(|user| user.arn())),
                "enable_date": timestamp(device.enable_date()),
            })
        })
        .collect();
    Ok(Value::Array(devices))
}

// ---- users -----------------------------------------------------------------

async fn users(client: &Client, ctx: &Ctx) -> Result<Value, String> {
    let what = call(SERVICE, "ListUsers", None);
    let users = all_items!(client.list_users(), what)?;
    let details = bounded(&ctx.iam_limit, users, |user| {
        let client = client.clone();
        async move { user_detail(&client, &user).await }
    })
    .await;
    all_ok(details.into_iter().map(|detail| detail.map(Ok)).collect()).map(Value::Array)
}

/// One user with every per-user call; a failed call is named in
/// `unavailable` and its field is `null`.
async fn user_detail(client: &Client, user: &User) -> Value {
    let name = user.user_name();
    let what = |operation: &str| format!("{} for user {name}", call(SERVICE, operation, None));
    let mut unavailable = Unread::default();

    let mfa_devices = match all_items!(client.list_mfa_devices().user_name(name), what("ListMFADevices")) {
        Ok(devices) => devices
            .iter()
            .map(|device| {
                json!({ "serial_number": device.serial_number(), "enable_date": timestamp(Some(device.enable_date())) })
            })
            .collect(),
        Err(reason) => unavailable.note("ListMFADevices", reason),
    };

    let access_keys = match all_items!(client.list_access_keys().user_name(name), what("ListAccessKeys")) {
        Ok(keys) => {
            let mut entries = Vec::with_capacity(keys.len());
            let mut last_used_failures = Vec::new();
            for key in &keys {
                let id = key.access_key_id().unwrap_or_default();
                let last_used = match client.get_access_key_last_used().access_key_id(id).send().await {
                    Ok(output) => timestamp(output.access_key_last_used().and_then(|used| used.last_used_date())),
                    Err(err) => {
                        last_used_failures
                            .push(sdk_reason(&format!("{} of key {id}", what("GetAccessKeyLastUsed")), &err));
                        Value::Null
                    }
                };
                entries.push(json!({
                    "id": id,
                    "status": opt_str(key.status().map(|status| status.as_str())),
                    "create_date": timestamp(key.create_date()),
                    "last_used_date": last_used,
                }));
            }
            if !last_used_failures.is_empty() {
                unavailable.note("GetAccessKeyLastUsed", last_used_failures.join("; "));
            }
            Value::Array(entries)
        }
        Err(reason) => unavailable.note("ListAccessKeys", reason),
    };

    let attached_policies =
        match all_items!(client.list_attached_user_policies().user_name(name), what("ListAttachedUserPolicies")) {
            Ok(policies) => attached(&policies),
            Err(reason) => unavailable.note("ListAttachedUserPolicies", reason),
        };

    let inline_policies = match all_items!(client.list_user_policies().user_name(name), what("ListUserPolicies")) {
        Ok(names) => json!(names),
        Err(reason) => unavailable.note("ListUserPolicies", reason),
    };

    let groups = match all_items!(client.list_groups_for_user().user_name(name), what("ListGroupsForUser")) {
        Ok(groups) => groups.iter().map(|group| Value::String(group.group_name().to_string())).collect(),
        Err(reason) => unavailable.note("ListGroupsForUser", reason),
    };

    let console_password = match client.get_login_profile().user_name(name).send().await {
        Ok(_) => Value::Bool(true),
        Err(err) if err.code() == Some("NoSuchEntity") => Value::Bool(false),
        Err(err) => unavailable.note("GetLoginProfile", sdk_reason(&what("GetLoginProfile"), &err)),
    };

    json!({
        "name": name,
        "arn": user.arn(),
        "create_date": timestamp(Some(user.create_date())),
        "password_last_used": timestamp(user.password_last_used()),
        "console_password": console_password,
        "mfa_devices": mfa_devices,
        "access_keys": access_keys,
        "attached_policies": attached_policies,
        "inline_policies": inline_policies,
        "groups": groups,
        "unavailable": unavailable.into_value(),
    })
}

fn attached(policies: &[AttachedPolicy]) -> Value {
    policies
        .iter()
        .map(|policy| json!({ "name": opt_str(policy.policy_name()), "arn": opt_str(policy.policy_arn()) }))
        .collect()
}

// ---- groups, roles ---------------------------------------------------------

async fn groups(client: &Client, ctx: &Ctx) -> Result<Value, String> {
    let what = call(SERVICE, "ListGroups", None);
    let groups = all_items!(client.list_groups(), what)?;
    let details = bounded(&ctx.iam_limit, groups, |group| {
        let client = client.clone();
        async move { group_detail(&client, &group).await }
    })
    .await;
    all_ok(details).map(Value::Array)
}

async fn group_detail(client: &Client, group: &Group) -> Result<Value, String> {
    let name = group.group_name();
    let what = |operation: &str| format!("{} for group {name}", call(SERVICE, operation, None));
    let attached_policies =
        all_items!(client.list_attached_group_policies().group_name(name), what("ListAttachedGroupPolicies"))?;
    let inline_policies = all_items!(client.list_group_policies().group_name(name), what("ListGroupPolicies"))?;
    Ok(json!({
        "name": name,
        "arn": group.arn(),
        "attached_policies": attached(&attached_policies),
        "inline_policies": inline_policies,
    }))
}

async fn roles(client: &Client, ctx: &Ctx) -> Result<Value, String> {
    let what = call(SERVICE, "ListRoles", None);
    let roles = all_items!(client.list_roles(), what)?;
    let details = bounded(&ctx.iam_limit, roles, |role| {
        let client = client.clone();
        async move { role_detail(&client, &role).await }
    })
    .await;
    all_ok(details).map(Value::Array)
}

async fn role_detail(client: &Client, role: &Role) -> Result<Value, String> {
    let name = role.role_name();
    let what = format!("{} for role {name}", call(SERVICE, "ListAttachedRolePolicies", None));
    let attached_policies = all_items!(client.list_attached_role_policies().role_name(name), what)?;
    Ok(json!({
        "name": name,
        "arn": role.arn(),
        "create_date": timestamp(Some(role.create_date())),
        "attached_policies": attached(&attached_policies),
    }))
}

// ---- policies --------------------------------------------------------------

async fn policies(client: &Client, ctx: &Ctx) -> Result<Value, String> {
    let what = call(SERVICE, "ListPolicies", None);
    let local = all_items!(client.list_policies().scope(PolicyScopeType::Local), format!("{what} (Scope=Local)"))?;
    let aws_attached = all_items!(
        client.list_policies().scope(PolicyScopeType::Aws).only_attached(true),
        format!("{what} (Scope=AWS, OnlyAttached=true)")
    )?;
    let items: Vec<(&'static str, Policy)> =
        local.into_iter().map(|policy| ("local", policy)).chain(aws_attached.into_iter().map(|p| ("aws", p))).collect();
    let details = bounded(&ctx.iam_limit, items, |(scope, policy)| {
        let client = client.clone();
        async move { policy_detail(&client, scope, &policy).await }
    })
    .await;
    all_ok(details).map(Value::Array)
}

async fn policy_detail(client: &Client, scope: &str, policy: &Policy) -> Result<Value, String> {
    let arn = policy.arn().unwrap_or_default();
    let what = format!("{} for policy {arn}", call(SERVICE, "GetPolicyVersion", None));
    let document = match policy.default_version_id() {
        Some(version) => {
            let output = client
                .get_policy_version()
                .policy_arn(arn)
                .version_id(version)
                .send()
                .await
                .map_err(|err| sdk_reason(&what, &err))?;
            let encoded = output.policy_version().and_then(|version| version.document()).unwrap_or_default();
            policy_document(encoded).map_err(|problem| format!("{what}: {problem}"))?
        }
        None => return Err(format!("{what}: the policy has no default version id")),
    };
    Ok(json!({
        "name": opt_str(policy.policy_name()),
        "arn": arn,
        "scope": scope,
        "attachment_count": policy.attachment_count(),
        "default_version_id": opt_str(policy.default_version_id()),
        "document": document,
    }))
}

/// A policy document as IAM returns it (URL-encoded JSON) as JSON.
pub(super) fn policy_document(encoded: &str) -> Result<Value, String> {
    let decoded = percent_decode(encoded)?;
    serde_json::from_str(&decoded).map_err(|err| format!("the policy document is not JSON: {err}"))
}

/// Decodes `%XX` escapes (RFC 3986); `+` stays `+`.
pub(super) fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|pair| std::str::from_utf8(pair).ok());
            match hex.and_then(|pair| u8::from_str_radix(pair, 16).ok()) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                None => return Err(format!("bad percent escape at byte {i} of the policy document")),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "the decoded policy document is not UTF-8".to_string())
}

// ---- support role, certificates --------------------------------------------

async fn support_role(client: &Client, ctx: &Ctx) -> Result<Value, String> {
    let policy_arn = format!("arn:{}:iam::aws:policy/AWSSupportAccess", ctx.partition);
    let what = format!("{} for {policy_arn}", call(SERVICE, "ListEntitiesForPolicy", None));
    let pages = all_pages!(client.list_entities_for_policy().policy_arn(&policy_arn), what)?;
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut roles = Vec::new();
    for page in &pages {
        users.extend(page.policy_users().iter().filter_map(|user| user.user_name()));
        groups.extend(page.policy_groups().iter().filter_map(|group| group.group_name()));
        roles.extend(page.policy_roles().iter().filter_map(|role| role.role_name()));
    }
    Ok(json!({ "policy_arn": policy_arn, "users": users, "groups": groups, "roles": roles }))
}

async fn server_certificates(client: &Client) -> Result<Value, String> {
    let what = call(SERVICE, "ListServerCertificates", None);
    let certificates = all_items!(client.list_server_certificates(), what)?;
    let certificates = certificates
        .iter()
        .map(|certificate| {
            json!({
                "name": certificate.server_certificate_name(),
                "arn": certificate.arn(),
                "expiration": timestamp(certificate.expiration()),
                "upload_date": timestamp(certificate.upload_date()),
            })
        })
        .collect();
    Ok(Value::Array(certificates))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-11-01T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
alice,arn:aws:iam::123456789012:user/alice,2025-01-01T00:00:00+00:00,true,no_information,2025-01-01T00:00:00+00:00,N/A,false,true,2025-01-01T00:00:00+00:00,2025-02-01T12:30:00+01:00,eu-west-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n";

    #[test]
    fn credential_report_rows_become_records() {
        let entries = parse_credential_report(REPORT).expect("parses");
        assert_eq!(entries.len(), 2);
        let root = &entries[0];
        assert_eq!(root["user"], "<root_account>");
        assert_eq!(root["arn"], "arn:aws:iam::123456789012:root");
        assert_eq!(root["user_creation_time"], "2020-01-01T00:00:00Z");
        assert_eq!(root["password_enabled"], Value::Null);
        assert_eq!(root["password_last_used"], "2026-11-01T10:00:00Z");
        assert_eq!(root["password_last_changed"], Value::Null);
        assert_eq!(root["mfa_active"], true);
        assert_eq!(root["access_key_1_active"], false);
        assert_eq!(root["access_key_1_last_rotated"], Value::Null);
        assert_eq!(root["cert_2_active"], false);
        let alice = &entries[1];
        assert_eq!(alice["password_enabled"], true);
        assert_eq!(alice["password_last_used"], Value::Null);
        assert_eq!(alice["access_key_1_active"], true);
        assert_eq!(alice["access_key_1_last_used_date"], "2025-02-01T11:30:00Z");
        assert_eq!(alice["access_key_1_last_used_region"], "eu-west-1");
    }

    #[test]
    fn credential_report_problems_are_reported() {
        assert!(parse_credential_report("").is_err());
        assert!(parse_credential_report("arn,x\n").is_err());
        let short = "user,arn,mfa_active\nalice,arn:aws:iam::1:user/alice\n";
        assert!(parse_credential_report(short).expect_err("short row").contains("line 2"));
    }

    #[test]
    fn csv_handles_quotes_crlf_and_missing_final_newline() {
        let rows = parse_csv("a,\"b,c\",\"d\"\"e\"\r\n1,,3").expect("parses");
        assert_eq!(rows, vec![vec!["a", "b,c", "d\"e"], vec!["1", "", "3"]]);
        assert!(parse_csv("a,\"b\n").is_err());
    }

    #[test]
    fn policy_documents_are_decoded() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        let document = policy_document(encoded).expect("decodes");
        assert_eq!(document["Statement"][0]["Action"], "*");
        assert_eq!(percent_decode("a+b%20c").expect("decodes"), "a+b c");
        assert!(percent_decode("%zz").is_err());
        // Already-plain JSON passes through.
        assert_eq!(policy_document("{\"Version\":\"2012-10-17\"}").expect("plain")["Version"], "2012-10-17");
    }
}
