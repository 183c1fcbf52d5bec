// RESP client: see RedisConnection.swift
