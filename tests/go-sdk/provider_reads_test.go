// The reads the Terraform provider (mongodb/mongodbatlas v2) makes after each create, update
// and import, replayed as raw requests with the exact API version each one sends, and the
// fields of each answer the provider maps into its state. A missing field there is a
// perpetual plan diff (or an import that differs from the created resource) for Terraform
// users, so this runs even where the provider itself cannot be built.
//
// The request sets follow the provider's own recorded test fixtures (for the advanced
// cluster: GET the cluster in 2024-08-05 and in 2023-02-01, its processArgs in 2023-01-01 and
// 2024-08-05, the project's AWS containers, the cluster and flex cluster lists).
package gosdk

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mongodb-forks/digest"
)

type raw struct {
	t    *testing.T
	e    env
	http *http.Client
}

func rawClient(t *testing.T, e env) *raw {
	t.Helper()
	c, err := digest.NewTransport(e.publicKey, e.privateKey).Client()
	if err != nil {
		t.Fatal(err)
	}
	return &raw{t: t, e: e, http: c}
}

// call sends one request with Atlas's versioned media type and returns status and JSON body.
func (r *raw) call(method, path, version string, body any) (int, map[string]any) {
	r.t.Helper()
	var reader io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.e.baseURL+path, reader)
	if err != nil {
		r.t.Fatal(err)
	}
	media := "application/vnd.atlas." + version + "+json"
	req.Header.Set("Accept", media)
	if body != nil {
		req.Header.Set("Content-Type", media)
	}
	res, err := r.http.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	text, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(text) > 0 {
		var v any
		if err := json.Unmarshal(text, &v); err != nil {
			r.t.Fatalf("%s %s (%s): answer is not JSON: %s", method, path, version, text)
		}
		// Some answers are arrays or scalars (the project's limits, managedSlowMs).
		out, _ = v.(map[string]any)
		if out == nil {
			out = map[string]any{"": v}
		}
	}
	return res.StatusCode, out
}

// must2xx calls and fails the test unless the answer is a success.
func (r *raw) must2xx(method, path, version string, body any) map[string]any {
	r.t.Helper()
	status, out := r.call(method, path, version, body)
	if status >= 300 {
		r.t.Fatalf("%s %s (%s) answered %d: %v", method, path, version, status, out)
	}
	return out
}

// lookup follows a dotted path; "[]" steps into the first element of an array.
func lookup(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		index := strings.HasSuffix(part, "[]")
		part = strings.TrimSuffix(part, "[]")
		if part != "" {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[part]; !ok {
				return nil, false
			}
		}
		if index {
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, false
			}
			v = list[0]
		}
	}
	return v, true
}

// wantFields reports every path missing from an answer (all at once, to list them together).
func wantFields(t *testing.T, what string, answer map[string]any, paths ...string) {
	t.Helper()
	var missing []string
	for _, p := range paths {
		if _, ok := lookup(answer, p); !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: fields Atlas returns and the provider reads are missing: %s", what, strings.Join(missing, ", "))
	}
}

func waitState(t *testing.T, r *raw, path, version, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := r.must2xx("GET", path, version, nil)
		if out["stateName"] == want {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %v, want %s", path, out["stateName"], want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestProviderReadsProject(t *testing.T) {
	e := serverEnv(t)
	r := rawClient(t, e)
	created := r.must2xx("POST", "/api/atlas/v2/groups", "2023-01-01", map[string]any{
		"name": unique("tf-reads"), "orgId": e.orgID, "withDefaultAlertsSettings": true,
		"tags": []map[string]string{{"key": "env", "value": "test"}},
	})
	id, _ := created["id"].(string)
	base := "/api/atlas/v2/groups/" + id

	settings := r.must2xx("GET", base+"/settings", "2023-01-01", nil)
	settings["isSchemaAdvisorEnabled"] = false
	r.must2xx("PATCH", base+"/settings", "2023-01-01", settings)

	project := r.must2xx("GET", base, "2023-01-01", nil)
	// The recorded project answers (atlas-cli TestAtlasProjects) carry no regionUsageRestrictions
	// for a commercial project: the provider leaves it unknown then.
	wantFields(t, "GET project", project, "id", "name", "orgId", "created", "clusterCount", "tags[].key", "tags[].value")
	settings = r.must2xx("GET", base+"/settings", "2023-01-01", nil)
	wantFields(t, "GET project settings", settings,
		"isCollectDatabaseSpecificsStatisticsEnabled", "isDataExplorerEnabled", "isExtendedStorageSizesEnabled",
		"isPerformanceAdvisorEnabled", "isRealtimePerformancePanelEnabled", "isSchemaAdvisorEnabled")
	if settings["isSchemaAdvisorEnabled"] != false {
		t.Errorf("PATCH settings isSchemaAdvisorEnabled=false read back as %v", settings["isSchemaAdvisorEnabled"])
	}
	r.must2xx("GET", base+"/teams", "2023-01-01", nil)
	r.must2xx("GET", base+"/limits", "2023-01-01", nil)
	ips := r.must2xx("GET", base+"/ipAddresses", "2023-01-01", nil)
	wantFields(t, "GET project ipAddresses", ips, "groupId", "services.clusters")
	slow := r.must2xx("GET", base+"/managedSlowMs", "2023-01-01", nil)
	_ = slow

	// Rename (the provider PATCHes name and tags), then delete.
	renamed := r.must2xx("PATCH", base, "2023-01-01", map[string]any{"name": unique("tf-reads-renamed"), "tags": []any{}})
	if tags, _ := renamed["tags"].([]any); len(tags) != 0 {
		t.Errorf("PATCH tags=[] left tags %v", renamed["tags"])
	}
	status, _ := r.call("DELETE", base, "2023-01-01", nil)
	// Recorded: DELETE /groups/{groupId} answers 202 with {} (atlas-cli TestAtlasProjects,
	// TestRestores), not the spec's 204; the provider accepts any 2xx.
	if status != http.StatusAccepted {
		t.Errorf("DELETE project answered %d, Atlas answers 202", status)
	}
}

func TestProviderReadsAdvancedCluster(t *testing.T) {
	e := serverEnv(t)
	r := rawClient(t, e)
	name := unique("tf-reads")
	clusters := "/api/atlas/v2/groups/" + e.projectID + "/clusters"
	r.must2xx("POST", clusters, "2024-10-23", map[string]any{
		"name": name, "clusterType": "REPLICASET",
		"replicationSpecs": []any{map[string]any{"regionConfigs": []any{map[string]any{
			"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
			"electableSpecs": map[string]any{"instanceSize": "M10", "nodeCount": 3},
			"autoScaling":    map[string]any{"diskGB": map[string]any{"enabled": true}},
		}}}},
	})
	cluster := waitState(t, r, clusters+"/"+name, "2024-08-05", "IDLE")
	wantFields(t, "GET cluster 2024-08-05", cluster,
		"advancedConfiguration.minimumEnabledTlsProtocol", "advancedConfiguration.tlsCipherConfigMode",
		"backupEnabled", "biConnector.enabled", "biConnector.readPreference", "clusterType",
		"connectionStrings.standard", "connectionStrings.standardSrv", "createDate", "diskWarmingMode",
		"encryptionAtRestProvider", "featureCompatibilityVersion", "globalClusterSelfManagedSharding",
		"groupId", "id", "labels", "mongoDBMajorVersion", "mongoDBVersion", "name", "paused", "pitEnabled",
		"redactClientLogData", "replicationSpecs[].id", "replicationSpecs[].zoneId", "replicationSpecs[].zoneName",
		"replicationSpecs[].regionConfigs[].electableSpecs.diskIOPS",
		"replicationSpecs[].regionConfigs[].electableSpecs.diskSizeGB",
		"replicationSpecs[].regionConfigs[].electableSpecs.ebsVolumeType",
		"replicationSpecs[].regionConfigs[].analyticsSpecs.instanceSize",
		"replicationSpecs[].regionConfigs[].analyticsSpecs.nodeCount",
		"replicationSpecs[].regionConfigs[].readOnlySpecs.instanceSize",
		"replicationSpecs[].regionConfigs[].readOnlySpecs.nodeCount",
		"replicationSpecs[].regionConfigs[].autoScaling.compute.enabled",
		"replicationSpecs[].regionConfigs[].autoScaling.compute.scaleDownEnabled",
		"replicationSpecs[].regionConfigs[].autoScaling.diskGB.enabled",
		"rootCertType", "stateName", "tags", "terminationProtectionEnabled", "versionReleaseSystem")

	legacy := r.must2xx("GET", clusters+"/"+name, "2023-02-01", nil)
	wantFields(t, "GET cluster 2023-02-01", legacy, "diskSizeGB", "replicationSpecs[].id", "replicationSpecs[].numShards",
		"replicationSpecs[].zoneName", "replicationSpecs[].regionConfigs[].electableSpecs.instanceSize")
	for _, version := range []string{"2023-01-01", "2024-08-05"} {
		// The BI Connector sampling options and the transaction lifetime are null until set
		// (recorded GET processArgs at 2023-01-01 and 2024-08-05, atlas-cli TestClustersFlags):
		// absent and null read the same to the provider.
		args := r.must2xx("GET", clusters+"/"+name+"/processArgs", version, nil)
		wantFields(t, "GET processArgs "+version, args, "javascriptEnabled", "minimumEnabledTlsProtocol", "noTableScan",
			"oplogSizeMB")
	}
	containers := r.must2xx("GET", "/api/atlas/v2/groups/"+e.projectID+"/containers?providerName=AWS", "2023-01-01", nil)
	wantFields(t, "GET AWS containers after an AWS cluster", containers, "results[].id", "results[].atlasCidrBlock",
		"results[].regionName", "results[].provisioned", "results[].providerName")
	r.must2xx("GET", clusters, "2024-08-05", nil)
	r.must2xx("GET", "/api/atlas/v2/groups/"+e.projectID+"/flexClusters", "2024-11-13", nil)

	// Scale up the way the provider does: PATCH the replication specs it read, in 2024-10-23.
	specs := cluster["replicationSpecs"]
	region := specs.([]any)[0].(map[string]any)["regionConfigs"].([]any)[0].(map[string]any)
	region["electableSpecs"].(map[string]any)["instanceSize"] = "M20"
	r.must2xx("PATCH", clusters+"/"+name, "2024-10-23", map[string]any{"replicationSpecs": specs})
	cluster = waitState(t, r, clusters+"/"+name, "2024-08-05", "IDLE")
	if got, _ := lookup(cluster, "replicationSpecs[].regionConfigs[].electableSpecs.instanceSize"); got != "M20" {
		t.Errorf("after the scale-up the instance size reads %v", got)
	}
	// Process args as the provider writes them after create (advanced_configuration).
	r.must2xx("PATCH", clusters+"/"+name+"/processArgs", "2024-08-05", map[string]any{"javascriptEnabled": false})

	status, _ := r.call("DELETE", clusters+"/"+name, "2023-02-01", nil)
	if status != http.StatusAccepted {
		t.Errorf("DELETE cluster answered %d, Atlas answers 202", status)
	}
}

func TestProviderReadsDatabaseUserAndAccessList(t *testing.T) {
	e := serverEnv(t)
	r := rawClient(t, e)
	base := "/api/atlas/v2/groups/" + e.projectID
	users := base + "/databaseUsers"
	name := unique("tf-user")
	r.must2xx("POST", users, "2023-01-01", map[string]any{
		"username": name, "password": "a-Long-enough-passw0rd", "databaseName": "admin", "groupId": e.projectID,
		"roles": []any{map[string]any{"roleName": "readWrite", "databaseName": "app"}},
	})
	user := r.must2xx("GET", users+"/admin/"+name, "2023-01-01", nil)
	wantFields(t, "GET database user", user, "username", "databaseName", "groupId", "roles[].roleName",
		"roles[].databaseName", "labels", "scopes", "ldapAuthType", "x509Type", "awsIAMType", "oidcAuthType")
	if _, shown := user["password"]; shown {
		t.Errorf("GET database user shows the password")
	}
	for _, u := range []map[string]any{
		{"username": "CN=" + name + ",OU=apps", "databaseName": "$external", "x509Type": "CUSTOMER"},
		{"username": "arn:aws:iam::123456789012:role/" + name, "databaseName": "$external", "awsIAMType": "ROLE"},
	} {
		u["groupId"] = e.projectID
		u["roles"] = []any{map[string]any{"roleName": "read", "databaseName": "app"}}
		r.must2xx("POST", users, "2023-01-01", u)
		path := users + "/%24external/" + strings.ReplaceAll(strings.ReplaceAll(u["username"].(string), ",", "%2C"), "/", "%2F")
		got := r.must2xx("GET", path, "2023-01-01", nil)
		for _, k := range []string{"x509Type", "awsIAMType"} {
			if want, ok := u[k]; ok && got[k] != want {
				t.Errorf("database user %s: %s reads back %v, want %v", u["username"], k, got[k], want)
			}
		}
	}

	access := base + "/accessList"
	r.must2xx("POST", access, "2023-01-01", []any{
		map[string]any{"cidrBlock": "10.10.0.0/16", "comment": "office"},
		map[string]any{"ipAddress": "192.0.2.10", "comment": "CI runner"},
	})
	for _, entry := range []string{"10.10.0.0%2F16", "192.0.2.10"} {
		got := r.must2xx("GET", access+"/"+entry, "2023-01-01", nil)
		wantFields(t, "GET access list entry "+entry, got, "cidrBlock", "comment", "groupId")
		st := r.must2xx("GET", access+"/"+entry+"/status", "2023-01-01", nil)
		if st["STATUS"] != "ACTIVE" {
			t.Errorf("access list entry %s status %v (the provider waits for ACTIVE)", entry, st["STATUS"])
		}
	}
	got := r.must2xx("GET", access+"/192.0.2.10", "2023-01-01", nil)
	if got["ipAddress"] != "192.0.2.10" || got["cidrBlock"] != "192.0.2.10/32" {
		t.Errorf("a single address reads back as ipAddress=%v cidrBlock=%v; Atlas: ipAddress and cidrBlock x.x.x.x/32", got["ipAddress"], got["cidrBlock"])
	}
}
