import CYaml

extension YAML {
    /// Block-style YAML for people and for `kubectl apply -f`: keys sorted (as kubectl prints
    /// them), multi-line strings as literal blocks, and any string a YAML 1.1 reader would take for
    /// something else (`"yes"`, `"1.0"`, `"null"`, `""`) double-quoted so it reads back as a string.
    public static func emit(_ value: JSON) -> String {
        emitAll([value], explicitStart: false)
    }

    /// Several documents separated by `---`.
    public static func emitAll(_ values: [JSON], explicitStart: Bool = true) -> String {
        final class Sink {
            var bytes: [UInt8] = []
        }
        let sink = Sink()
        var emitter = yaml_emitter_t()
        guard yaml_emitter_initialize(&emitter) == 1 else { return "" }
        defer { yaml_emitter_delete(&emitter) }
        yaml_emitter_set_unicode(&emitter, 1)
        yaml_emitter_set_width(&emitter, -1)
        yaml_emitter_set_indent(&emitter, 2)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        yaml_emitter_set_output(
            &emitter,
            { data, buffer, size in
                guard let data, let buffer else { return 0 }
                let sink = Unmanaged<Sink>.fromOpaque(data).takeUnretainedValue()
                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
                return 1
            }, context)

        var event = yaml_event_t()
        yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)
        yaml_emitter_emit(&emitter, &event)
        for value in values {
            yaml_document_start_event_initialize(&event, nil, nil, nil, explicitStart ? 0 : 1)
            yaml_emitter_emit(&emitter, &event)
            emitNode(value, emitter: &emitter)
            yaml_document_end_event_initialize(&event, 1)
            yaml_emitter_emit(&emitter, &event)
        }
        yaml_stream_end_event_initialize(&event)
        yaml_emitter_emit(&emitter, &event)
        yaml_emitter_flush(&emitter)
        return withExtendedLifetime(sink) { String(decoding: sink.bytes, as: UTF8.self) }
    }

    private static func emitNode(_ value: JSON, emitter: inout yaml_emitter_t) {
        var event = yaml_event_t()
        switch value {
        case .object(let object):
            yaml_mapping_start_event_initialize(
                &event, nil, nil, 1, object.isEmpty ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE)
            yaml_emitter_emit(&emitter, &event)
            for key in object.keys.sorted() {
                emitScalar(key, plainAllowed: YAML.resolvePlain(key) == .string(key), emitter: &emitter)
                emitNode(object[key] ?? .null, emitter: &emitter)
            }
            yaml_mapping_end_event_initialize(&event)
            yaml_emitter_emit(&emitter, &event)
        case .array(let array):
            yaml_sequence_start_event_initialize(
                &event, nil, nil, 1, array.isEmpty ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE)
            yaml_emitter_emit(&emitter, &event)
            for element in array { emitNode(element, emitter: &emitter) }
            yaml_sequence_end_event_initialize(&event)
            yaml_emitter_emit(&emitter, &event)
        case .string(let text):
            emitScalar(text, plainAllowed: !text.isEmpty && YAML.resolvePlain(text) == .string(text), emitter: &emitter)
        case .null:
            emitScalar("null", plainAllowed: true, emitter: &emitter)
        case .bool(let flag):
            emitScalar(flag ? "true" : "false", plainAllowed: true, emitter: &emitter)
        case .int(let number):
            emitScalar(String(number), plainAllowed: true, emitter: &emitter)
        case .double(let number):
            let text: String
            if number.isNaN {
                text = ".nan"
            } else if number.isInfinite {
                text = number < 0 ? "-.inf" : ".inf"
            } else {
                text = JSON.double(number).serialized()
            }
            emitScalar(text, plainAllowed: true, emitter: &emitter)
        }
    }

    private static func emitScalar(_ text: String, plainAllowed: Bool, emitter: inout yaml_emitter_t) {
        var event = yaml_event_t()
        let style: yaml_scalar_style_t
        if !plainAllowed {
            style = YAML_DOUBLE_QUOTED_SCALAR_STYLE
        } else if text.contains("\n") {
            style = YAML_LITERAL_SCALAR_STYLE
        } else {
            style = YAML_ANY_SCALAR_STYLE
        }
        // libyaml copies the value; the trailing NUL keeps the pointer non-nil for "".
        var bytes = Array(text.utf8) + [0]
        bytes.withUnsafeMutableBufferPointer { buffer in
            _ = yaml_scalar_event_initialize(
                &event, nil, nil, buffer.baseAddress, Int32(buffer.count - 1), plainAllowed ? 1 : 0, 1, style)
        }
        yaml_emitter_emit(&emitter, &event)
    }
}
