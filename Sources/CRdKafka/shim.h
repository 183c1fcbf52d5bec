#include <librdkafka/rdkafka.h>

// rd_kafka_producev is variadic, which Swift cannot call: one fixed-argument wrapper for a keyed
// message with optional headers (ownership of `headers` passes to librdkafka on success).
static inline rd_kafka_resp_err_t swift_rdkafka_produce(
    rd_kafka_t *rk, const char *topic, const void *value, size_t value_size, const void *key, size_t key_size,
    rd_kafka_headers_t *headers, void *opaque) {
    if (headers != NULL) {
        return rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE((void *)value, value_size), RD_KAFKA_V_KEY(key, key_size),
            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)value, value_size), RD_KAFKA_V_KEY(key, key_size),
        RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}
