// Package api holds the wire shapes of the provisioner's HTTP API, shared by
// the server (package http) and its Go client (package client) so the two
// cannot disagree. openapi.yaml beside this file describes the same shapes;
// the server's tests check its answers against it.
package api

import (
	"time"

	"provisioner"
)

// Error is the one shape of every error answer.
type Error struct {
	Status      string `json:"status"` // always "failure"
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Metadata describes a jwt_user; times are Unix seconds, as the SlideRule
// Python client reads metadata.exp to plan its refresh.
type Metadata struct {
	Subject   string `json:"sub"`
	UID       int64  `json:"uid"`
	Level     string `json:"level"`
	Org       string `json:"org,omitempty"`
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
}

// MetadataOf returns the wire form of verified claims.
func MetadataOf(c provisioner.Claims) Metadata {
	return Metadata{Subject: c.Subject, UID: c.UID, Level: c.Level.String(), Org: c.Org,
		Issuer: c.Issuer, Audience: c.Audience, IssuedAt: c.IssuedAt.Unix(),
		NotBefore: c.NotBefore.Unix(), ExpiresAt: c.ExpiresAt.Unix(), ID: c.ID}
}

// Login is the answer to every successful login.
type Login struct {
	Status   string   `json:"status"`
	Token    string   `json:"token"`
	Metadata Metadata `json:"metadata"`
}

// Whoami is the answer to GET /auth/whoami.
type Whoami struct {
	Status   string   `json:"status"`
	Metadata Metadata `json:"metadata"`
}

// Device is the answer to the start of a device flow.
type Device struct {
	Status string `json:"status"`
	provisioner.DeviceCode
}

// Pending is the 202 answer to a device poll the user has not approved yet.
type Pending struct {
	Status   string `json:"status"` // "pending"
	Error    string `json:"error"`  // authorization_pending or slow_down
	Interval int    `json:"interval"`
}

// ClusterRequest names one cluster.
type ClusterRequest struct {
	Cluster string `json:"cluster"`
}

// RegisterRequest registers a cluster; IsPublic is required.
type RegisterRequest struct {
	Cluster  string `json:"cluster"`
	IsPublic *bool  `json:"is_public"`
}

// Access carries a jwt_cluster.
type Access struct {
	Status    string    `json:"status"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Cluster is a cluster as the API reports it.
type Cluster struct {
	Cluster   string    `json:"cluster"`
	IsPublic  bool      `json:"is_public"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ClusterOf returns the wire form of a cluster.
func ClusterOf(c provisioner.Cluster) Cluster {
	return Cluster{Cluster: c.Name, IsPublic: c.IsPublic, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt.UTC()}
}

// Registered is the answer to a registration.
type Registered struct {
	Status string `json:"status"`
	Cluster
}

// Clusters is the answer to POST /report/clusters.
type Clusters struct {
	Status   string    `json:"status"`
	Clusters []Cluster `json:"clusters"`
}

// Audit is the answer to GET /audit.
type Audit struct {
	Status  string                   `json:"status"`
	Entries []provisioner.AuditEntry `json:"entries"`
}
