//! The HDHomeRun HTTP documents (API.md §3): discover.json, lineup.json,
//! lineup_status.json, status.json, and the UPnP device.xml and service.xml. Pure renderers
//! over settings, the lineup and an origin; `hdhr::route` caches and serves them.

use bytes::Bytes;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::Serialize;

use crate::iptv::lineup::LineupChannel;
use crate::settings::Hdhomerun;

pub const FIRMWARE_NAME: &str = "hdhomeruntc_atsc";
pub const FIRMWARE_VERSION: &str = "20190621";
pub const MANUFACTURER: &str = "Silicondust";

/// The fields discover.json and UDP discovery share.
pub struct Identity<'a> {
    pub settings: &'a Hdhomerun,
    pub tuner_count: u16,
}

#[derive(Serialize)]
struct Discover<'a> {
    #[serde(rename = "FriendlyName")]
    friendly_name: &'a str,
    #[serde(rename = "Manufacturer")]
    manufacturer: &'a str,
    #[serde(rename = "ModelNumber")]
    model_number: &'a str,
    #[serde(rename = "FirmwareName")]
    firmware_name: &'a str,
    #[serde(rename = "FirmwareVersion")]
    firmware_version: &'a str,
    #[serde(rename = "DeviceID")]
    device_id: &'a str,
    #[serde(rename = "DeviceAuth")]
    device_auth: &'a str,
    #[serde(rename = "BaseURL")]
    base_url: String,
    #[serde(rename = "LineupURL")]
    lineup_url: String,
    #[serde(rename = "TunerCount")]
    tuner_count: u16,
}

pub fn base_url(origin: &str) -> String {
    format!("{origin}/hdhomerun")
}

pub fn discover_json(id: &Identity<'_>, origin: &str, token_query: &str) -> Bytes {
    let base = base_url(origin);
    let doc = Discover {
        friendly_name: &id.settings.friendly_name,
        manufacturer: MANUFACTURER,
        model_number: &id.settings.model_number,
        firmware_name: FIRMWARE_NAME,
        firmware_version: FIRMWARE_VERSION,
        device_id: &id.settings.device_id,
        device_auth: &id.settings.device_auth,
        lineup_url: format!("{base}/lineup.json{token_query}"),
        base_url: base,
        tuner_count: id.tuner_count,
    };
    to_json(&doc)
}

#[derive(Serialize)]
struct LineupEntry<'a> {
    #[serde(rename = "GuideNumber")]
    guide_number: &'a str,
    #[serde(rename = "GuideName")]
    guide_name: &'a str,
    #[serde(rename = "URL")]
    url: String,
    #[serde(rename = "HD")]
    hd: u8,
    #[serde(rename = "VideoCodec")]
    video_codec: &'static str,
    #[serde(rename = "AudioCodec")]
    audio_codec: &'static str,
}

pub fn lineup_json(channels: &[LineupChannel], origin: &str, token_query: &str) -> Bytes {
    let entries: Vec<LineupEntry<'_>> = channels
        .iter()
        .map(|ch| LineupEntry {
            guide_number: &ch.number,
            guide_name: guide_name(&ch.number, &ch.name),
            url: format!("{origin}/hdhomerun/auto/v{}{token_query}", ch.number),
            hd: u8::from(ch.height >= 720),
            video_codec: ch.video_codec(),
            audio_codec: ch.audio_codec(),
        })
        .collect();
    to_json(&entries)
}

/// The name with a leading copy of the number stripped (and a following `'s`, space, `-`,
/// `.` or `_`), when at least 3 characters remain (API.md §3, GuideName).
pub fn guide_name<'a>(number: &str, name: &'a str) -> &'a str {
    let Some(rest) = name.strip_prefix(number) else {
        return name;
    };
    let rest = rest.strip_prefix("'s").unwrap_or(rest);
    let rest = rest.trim_start_matches([' ', '-', '.', '_']);
    if rest.chars().count() >= 3 {
        rest
    } else {
        name
    }
}

pub const LINEUP_STATUS: &str =
    r#"{"ScanInProgress":0,"ScanPossible":1,"Source":"Antenna","SourceList":["Antenna","Cable"]}"#;

/// One tuner's line in status.json.
#[derive(Serialize)]
pub struct TunerStatus {
    #[serde(rename = "Tuner")]
    pub tuner: String,
    #[serde(rename = "Status")]
    pub status: &'static str,
    #[serde(rename = "Channel", skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(rename = "Lock")]
    pub lock: &'static str,
    #[serde(rename = "ClientCount")]
    pub client_count: u32,
    #[serde(rename = "LastActivity", skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<String>,
}

impl TunerStatus {
    pub fn idle(index: u16) -> TunerStatus {
        TunerStatus {
            tuner: format!("tuner{index}"),
            status: "Idle",
            channel: None,
            lock: "none",
            client_count: 0,
            last_activity: None,
        }
    }
}

#[derive(Serialize)]
struct Status<'a> {
    #[serde(rename = "FriendlyName")]
    friendly_name: &'a str,
    #[serde(rename = "ModelNumber")]
    model_number: &'a str,
    #[serde(rename = "FirmwareName")]
    firmware_name: &'a str,
    #[serde(rename = "FirmwareVersion")]
    firmware_version: &'a str,
    #[serde(rename = "DeviceID")]
    device_id: &'a str,
    #[serde(rename = "DeviceAuth")]
    device_auth: &'a str,
    #[serde(rename = "TunerCount")]
    tuner_count: u16,
    #[serde(rename = "TunerStatus")]
    tuner_status: &'a [TunerStatus],
}

pub fn status_json(id: &Identity<'_>, tuners: &[TunerStatus]) -> Bytes {
    to_json(&Status {
        friendly_name: &id.settings.friendly_name,
        model_number: &id.settings.model_number,
        firmware_name: FIRMWARE_NAME,
        firmware_version: FIRMWARE_VERSION,
        device_id: &id.settings.device_id,
        device_auth: &id.settings.device_auth,
        tuner_count: id.tuner_count,
        tuner_status: tuners,
    })
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Bytes {
    // Our own structs of strings and integers: serialisation cannot fail.
    Bytes::from(serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec()))
}

/// The UPnP root device description (API.md §3, device.xml).
pub fn device_xml(settings: &Hdhomerun, origin: &str) -> Bytes {
    let mut w = Writer::new(Vec::with_capacity(1024));
    // Writing into a Vec cannot fail.
    let _ = write_device(&mut w, settings, origin);
    Bytes::from(w.into_inner())
}

fn write_device(w: &mut Writer<Vec<u8>>, s: &Hdhomerun, origin: &str) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::Start(
        BytesStart::new("root").with_attributes([("xmlns", "urn:schemas-upnp-org:device-1-0")]),
    ))?;
    w.write_event(Event::Start(BytesStart::new("specVersion")))?;
    text(w, "major", "1")?;
    text(w, "minor", "0")?;
    w.write_event(Event::End(BytesEnd::new("specVersion")))?;
    text(w, "URLBase", origin)?;
    w.write_event(Event::Start(BytesStart::new("device")))?;
    text(w, "deviceType", "urn:schemas-upnp-org:device:MediaServer:1")?;
    text(w, "friendlyName", &s.friendly_name)?;
    text(w, "manufacturer", MANUFACTURER)?;
    text(w, "modelName", &s.model_number)?;
    text(w, "modelNumber", &s.model_number)?;
    text(w, "serialNumber", &s.device_id)?;
    text(w, "UDN", &format!("uuid:{}", s.device_id))?;
    w.write_event(Event::Start(BytesStart::new("serviceList")))?;
    w.write_event(Event::Start(BytesStart::new("service")))?;
    text(
        w,
        "serviceType",
        "urn:schemas-upnp-org:service:ContentDirectory:1",
    )?;
    text(w, "serviceId", "urn:upnp-org:serviceId:ContentDirectory")?;
    text(w, "SCPDURL", "/hdhomerun/service.xml")?;
    text(w, "controlURL", "/hdhomerun/control")?;
    text(w, "eventSubURL", "/hdhomerun/event")?;
    w.write_event(Event::End(BytesEnd::new("service")))?;
    w.write_event(Event::End(BytesEnd::new("serviceList")))?;
    w.write_event(Event::End(BytesEnd::new("device")))?;
    w.write_event(Event::End(BytesEnd::new("root")))?;
    Ok(())
}

fn text(w: &mut Writer<Vec<u8>>, name: &str, value: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(value)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// The ContentDirectory:1 SCPD: the four actions clients probe for.
pub const SERVICE_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<scpd xmlns="urn:schemas-upnp-org:service-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<actionList>
<action><name>GetSearchCapabilities</name><argumentList><argument><name>SearchCaps</name><direction>out</direction><relatedStateVariable>SearchCapabilities</relatedStateVariable></argument></argumentList></action>
<action><name>GetSortCapabilities</name><argumentList><argument><name>SortCaps</name><direction>out</direction><relatedStateVariable>SortCapabilities</relatedStateVariable></argument></argumentList></action>
<action><name>GetSystemUpdateID</name><argumentList><argument><name>Id</name><direction>out</direction><relatedStateVariable>SystemUpdateID</relatedStateVariable></argument></argumentList></action>
<action><name>Browse</name><argumentList>
<argument><name>ObjectID</name><direction>in</direction><relatedStateVariable>A_ARG_TYPE_ObjectID</relatedStateVariable></argument>
<argument><name>BrowseFlag</name><direction>in</direction><relatedStateVariable>A_ARG_TYPE_BrowseFlag</relatedStateVariable></argument>
<argument><name>Filter</name><direction>in</direction><relatedStateVariable>A_ARG_TYPE_Filter</relatedStateVariable></argument>
<argument><name>StartingIndex</name><direction>in</direction><relatedStateVariable>A_ARG_TYPE_Index</relatedStateVariable></argument>
<argument><name>RequestedCount</name><direction>in</direction><relatedStateVariable>A_ARG_TYPE_Count</relatedStateVariable></argument>
<argument><name>SortCriteria</name><direction>in</direction><relatedStateVariable>A_ARG_TYPE_SortCriteria</relatedStateVariable></argument>
<argument><name>Result</name><direction>out</direction><relatedStateVariable>A_ARG_TYPE_Result</relatedStateVariable></argument>
<argument><name>NumberReturned</name><direction>out</direction><relatedStateVariable>A_ARG_TYPE_Count</relatedStateVariable></argument>
<argument><name>TotalMatches</name><direction>out</direction><relatedStateVariable>A_ARG_TYPE_Count</relatedStateVariable></argument>
<argument><name>UpdateID</name><direction>out</direction><relatedStateVariable>A_ARG_TYPE_UpdateID</relatedStateVariable></argument>
</argumentList></action>
</actionList>
<serviceStateTable>
<stateVariable sendEvents="no"><name>SearchCapabilities</name><dataType>string</dataType></stateVariable>
<stateVariable sendEvents="no"><name>SortCapabilities</name><dataType>string</dataType></stateVariable>
<stateVariable sendEvents="yes"><name>SystemUpdateID</name><dataType>ui4</dataType></stateVariable>
<stateVariable sendEvents="no"><name>A_ARG_TYPE_ObjectID</name><dataType>string</dataType></stateVariable>
<stateVariable sendEvents="no"><name>A_ARG_TYPE_BrowseFlag</name><dataType>string</dataType><allowedValueList><allowedValue>BrowseMetadata</allowedValue><allowedValue>BrowseDirectChildren</allowedValue></allowedValueList></stateVariable>
<stateVariable sendEvents="no"><name>A_ARG_TYPE_Filter</name><dataType>string</dataType></stateVariable>
<stateVariable sendEvents="no"><name>A_ARG_TYPE_Index</name><dataType>ui4</dataType></stateVariable>
<stateVariable sendEvents="no"><name>A_ARG_TYPE_Count</name><dataType>ui4</dataType></stateVariable>
<stateVariable sendEvents="no"><name>A_ARG_TYPE_SortCriteria</name><dataType>string</dataType></stateVariable>
<stateVariable sendEvents="no"><name>A_ARG_TYPE_Result</name><dataType>string</dataType></stateVariable>
<stateVariable sendEvents="no"><name>A_ARG_TYPE_UpdateID</name><dataType>ui4</dataType></stateVariable>
</serviceStateTable>
</scpd>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn settings() -> Hdhomerun {
        Hdhomerun {
            device_id: "1053C5A3".into(),
            friendly_name: "Den & <TV>".into(),
            ..Hdhomerun::default()
        }
    }

    #[test]
    fn discover_and_lineup() {
        let s = settings();
        let id = Identity {
            settings: &s,
            tuner_count: 4,
        };
        let text = discover_json(&id, "http://192.168.1.20:8411", "");
        expect![[r#"{"FriendlyName":"Den & <TV>","Manufacturer":"Silicondust","ModelNumber":"HDTC-2US","FirmwareName":"hdhomeruntc_atsc","FirmwareVersion":"20190621","DeviceID":"1053C5A3","DeviceAuth":"exstreamtv","BaseURL":"http://192.168.1.20:8411/hdhomerun","LineupURL":"http://192.168.1.20:8411/hdhomerun/lineup.json","TunerCount":4}"#]]
        .assert_eq(std::str::from_utf8(&text).unwrap());
        let ch = LineupChannel {
            id: crate::ops::ids::ChannelId(1),
            number: "100".into(),
            name: "100 Demo HD".into(),
            group: "General".into(),
            logo_path: None,
            logo_url: None,
            show_in_epg: true,
            height: 720,
            video_encoder: "libx264".into(),
            audio_encoder: "aac".into(),
        };
        let text = lineup_json(&[ch], "http://192.168.1.20:8411", "?access_token=t");
        expect![[r#"[{"GuideNumber":"100","GuideName":"Demo HD","URL":"http://192.168.1.20:8411/hdhomerun/auto/v100?access_token=t","HD":1,"VideoCodec":"H264","AudioCodec":"AAC"}]"#]]
        .assert_eq(std::str::from_utf8(&text).unwrap());
    }

    #[test]
    fn guide_names() {
        assert_eq!(guide_name("100", "100 Demo"), "Demo");
        assert_eq!(guide_name("5", "5's Movies"), "Movies");
        assert_eq!(guide_name("5", "5-TV"), "5-TV"); // only 2 would remain
        assert_eq!(guide_name("7", "Seven"), "Seven");
        assert_eq!(guide_name("2", "2_Kids_Zone"), "Kids_Zone");
    }

    #[test]
    fn device_xml_escapes() {
        let xml = device_xml(&settings(), "http://h:8411");
        let text = std::str::from_utf8(&xml).unwrap();
        assert!(
            text.contains("<friendlyName>Den &amp; &lt;TV&gt;</friendlyName>"),
            "{text}"
        );
        assert!(text.contains("<UDN>uuid:1053C5A3</UDN>"));
        assert!(text.contains("<URLBase>http://h:8411</URLBase>"));
    }
}
