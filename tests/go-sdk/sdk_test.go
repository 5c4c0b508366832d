// What an in-house tool built on MongoDB's Go SDK (go.mongodb.org/atlas-sdk) does, run against
// localatlas: Digest and service-account clients, create/read/update/delete of projects,
// clusters, database users and access-list entries, paging through lists, the SDK's error
// helpers, and the per-operation version headers the SDK sends.
//
// The server comes from the environment (docs/clients.md's variables): LOCALATLAS (base URL,
// no /api/atlas/v2), PUBLIC_KEY/PRIVATE_KEY, CLIENT_ID/CLIENT_SECRET, ORG_ID, PROJECT_ID; with
// an https:// URL, SSL_CERT_FILE names the CA to trust (Go reads it). Without LOCALATLAS every
// test is skipped. tests/e2e/go-clients.sh starts localatlas and runs this.
package gosdk

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mongodb-forks/digest"
	"go.mongodb.org/atlas-sdk/v20250312020/admin"
	"go.mongodb.org/atlas-sdk/v20250312020/auth"
)

type env struct {
	baseURL, publicKey, privateKey, clientID, clientSecret, orgID, projectID string
}

func serverEnv(t *testing.T) env {
	t.Helper()
	e := env{
		baseURL:      os.Getenv("LOCALATLAS"),
		publicKey:    os.Getenv("PUBLIC_KEY"),
		privateKey:   os.Getenv("PRIVATE_KEY"),
		clientID:     os.Getenv("CLIENT_ID"),
		clientSecret: os.Getenv("CLIENT_SECRET"),
		orgID:        os.Getenv("ORG_ID"),
		projectID:    os.Getenv("PROJECT_ID"),
	}
	if e.baseURL == "" {
		t.Skip("LOCALATLAS is not set: no server to test against (tests/e2e/go-clients.sh starts one)")
	}
	return e
}

// exchange is one request the SDK sent and the answer's status and content type.
type exchange struct {
	method, path, accept, contentType, authorization string
	status                                           int
	answerType                                       string
}

// recorder is an http.RoundTripper that notes every exchange and passes it on.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.base.RoundTrip(req)
	x := exchange{
		method:        req.Method,
		path:          req.URL.Path,
		accept:        req.Header.Get("Accept"),
		contentType:   req.Header.Get("Content-Type"),
		authorization: req.Header.Get("Authorization"),
	}
	if res != nil {
		x.status = res.StatusCode
		x.answerType = res.Header.Get("Content-Type")
	}
	r.mu.Lock()
	r.seen = append(r.seen, x)
	r.mu.Unlock()
	return res, err
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.seen...)
}

// digestClient is the documented client (admin.UseDigestAuth); recordingDigestClient is the
// same Digest transport over a recorder, as the SDK's comment on UseHTTPClient shows.
func digestClient(t *testing.T, e env) *admin.APIClient {
	t.Helper()
	client, err := admin.NewClient(admin.UseDigestAuth(e.publicKey, e.privateKey), admin.UseBaseURL(e.baseURL))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return client
}

func recordingDigestClient(t *testing.T, e env) (*admin.APIClient, *recorder) {
	t.Helper()
	rec := &recorder{base: http.DefaultTransport}
	transport := digest.NewTransportWithHTTPRoundTripper(e.publicKey, e.privateKey, rec)
	httpClient, err := transport.Client()
	if err != nil {
		t.Fatalf("digest client: %v", err)
	}
	client, err := admin.NewClient(admin.UseHTTPClient(httpClient), admin.UseBaseURL(e.baseURL))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return client, rec
}

func unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantNotFound checks the SDK's error helpers on a 404: AsError gives the Atlas error body,
// IsErrorCode matches its errorCode.
func wantNotFound(t *testing.T, what string, res *http.Response, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: expected 404 %s, got success", what, code)
	}
	apiErr, ok := admin.AsError(err)
	if !ok {
		t.Fatalf("%s: admin.AsError found no Atlas error in %v", what, err)
	}
	if apiErr.GetError() != http.StatusNotFound || (res != nil && res.StatusCode != http.StatusNotFound) {
		t.Fatalf("%s: expected status 404, got error %d: %v", what, apiErr.GetError(), err)
	}
	if !admin.IsErrorCode(err, code) {
		t.Fatalf("%s: expected errorCode %s, got %s (%s)", what, code, apiErr.GetErrorCode(), apiErr.GetDetail())
	}
	if apiErr.GetReason() == "" || apiErr.GetDetail() == "" {
		t.Errorf("%s: Atlas error without reason or detail: %+v", what, apiErr)
	}
}

func replicaSet(name, size string) *admin.ClusterDescription20240805 {
	return &admin.ClusterDescription20240805{
		Name:        admin.PtrString(name),
		ClusterType: admin.PtrString("REPLICASET"),
		ReplicationSpecs: &[]admin.ReplicationSpec20240805{{
			RegionConfigs: &[]admin.CloudRegionConfig20240805{{
				ProviderName: admin.PtrString("AWS"),
				RegionName:   admin.PtrString("US_EAST_1"),
				Priority:     admin.PtrInt(7),
				ElectableSpecs: &admin.HardwareSpec20240805{
					InstanceSize: admin.PtrString(size),
					NodeCount:    admin.PtrInt(3),
				},
			}},
		}},
	}
}

// waitCluster polls like the provider and the CLI do until the cluster reaches want.
func waitCluster(t *testing.T, ctx context.Context, client *admin.APIClient, project, name, want string) *admin.ClusterDescription20240805 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cluster, _, err := client.ClustersApi.GetCluster(ctx, project, name).Execute()
		if err != nil {
			t.Fatalf("GetCluster %s: %v", name, err)
		}
		if cluster.GetStateName() == want {
			return cluster
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s still %s, want %s", name, cluster.GetStateName(), want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestDigestProjectsCrudAndPaging(t *testing.T) {
	e := serverEnv(t)
	ctx := context.Background()
	client := digestClient(t, e)

	var created []string
	for i := 0; i < 5; i++ {
		group, _, err := client.ProjectsApi.CreateGroup(ctx, &admin.Group{
			Name:  unique(fmt.Sprintf("sdk-page-%d", i)),
			OrgId: e.orgID,
		}).Execute()
		ok(t, "CreateGroup", err)
		if group.GetId() == "" || group.Created.IsZero() {
			t.Fatalf("created project lacks id or created: %+v", group)
		}
		created = append(created, group.GetId())
	}

	// Page through every project two at a time, as tools that list "all" projects do.
	seen := map[string]bool{}
	total := -1
	for page := 1; ; page++ {
		list, _, err := client.ProjectsApi.ListGroups(ctx).ItemsPerPage(2).PageNum(page).IncludeCount(true).Execute()
		ok(t, "ListGroups", err)
		if total == -1 {
			total = list.GetTotalCount()
		} else if list.GetTotalCount() != total {
			t.Fatalf("totalCount changed while paging: %d then %d", total, list.GetTotalCount())
		}
		results := list.GetResults()
		if len(results) > 2 {
			t.Fatalf("page %d has %d results with itemsPerPage=2", page, len(results))
		}
		for _, g := range results {
			if seen[g.GetId()] {
				t.Fatalf("project %s listed twice while paging", g.GetId())
			}
			seen[g.GetId()] = true
		}
		if len(results) < 2 || page > 50 {
			break
		}
	}
	if len(seen) != total {
		t.Fatalf("paging saw %d projects, totalCount says %d", len(seen), total)
	}
	for _, id := range append(created, e.projectID) {
		if !seen[id] {
			t.Fatalf("project %s missing from the pages", id)
		}
	}

	renamed := unique("sdk-renamed")
	updated, _, err := client.ProjectsApi.UpdateGroup(ctx, created[0], &admin.GroupUpdate{Name: admin.PtrString(renamed)}).Execute()
	ok(t, "UpdateGroup", err)
	if updated.GetName() != renamed {
		t.Fatalf("UpdateGroup answered name %q, want %q", updated.GetName(), renamed)
	}
	byName, _, err := client.ProjectsApi.GetGroupByName(ctx, renamed).Execute()
	ok(t, "GetGroupByName", err)
	if byName.GetId() != created[0] {
		t.Fatalf("GetGroupByName(%s) = %s, want %s", renamed, byName.GetId(), created[0])
	}

	for _, id := range created {
		_, err = client.ProjectsApi.DeleteGroup(ctx, id).Execute()
		ok(t, "DeleteGroup", err)
	}
	_, res, err := client.ProjectsApi.GetGroup(ctx, created[0]).Execute()
	wantNotFound(t, "GetGroup after DeleteGroup", res, err, "GROUP_NOT_FOUND")
}

func TestDigestClusterLifecycle(t *testing.T) {
	e := serverEnv(t)
	ctx := context.Background()
	client := digestClient(t, e)
	name := unique("sdk-cluster")

	created, _, err := client.ClustersApi.CreateCluster(ctx, e.projectID, replicaSet(name, "M10")).Execute()
	ok(t, "CreateCluster", err)
	if created.GetStateName() != "CREATING" {
		t.Errorf("CreateCluster answered state %q, want CREATING", created.GetStateName())
	}
	if created.GetId() == "" || created.GetGroupId() != e.projectID {
		t.Errorf("CreateCluster answer lacks id or groupId: id=%q groupId=%q", created.GetId(), created.GetGroupId())
	}

	cluster := waitCluster(t, ctx, client, e.projectID, name, "IDLE")
	if cluster.GetMongoDBVersion() == "" || cluster.ConnectionStrings == nil || cluster.ConnectionStrings.GetStandardSrv() == "" {
		t.Errorf("an IDLE cluster should have a MongoDB version and SRV connection string: %+v", cluster)
	}

	// Scale up: read, change the instance size, write it back (what tools and the provider do).
	specs := cluster.GetReplicationSpecs()
	regions := specs[0].GetRegionConfigs()
	regions[0].ElectableSpecs.InstanceSize = admin.PtrString("M20")
	update := &admin.ClusterDescription20240805{ReplicationSpecs: &specs}
	updated, _, err := client.ClustersApi.UpdateCluster(ctx, e.projectID, name, update).Execute()
	ok(t, "UpdateCluster", err)
	if s := updated.GetStateName(); s != "UPDATING" && s != "IDLE" {
		t.Errorf("UpdateCluster answered state %q", s)
	}
	cluster = waitCluster(t, ctx, client, e.projectID, name, "IDLE")
	got := cluster.GetReplicationSpecs()[0].GetRegionConfigs()[0].ElectableSpecs.GetInstanceSize()
	if got != "M20" {
		t.Fatalf("after the scale-up the instance size is %q, want M20", got)
	}

	list, _, err := client.ClustersApi.ListClusters(ctx, e.projectID).Execute()
	ok(t, "ListClusters", err)
	found := false
	for _, c := range list.GetResults() {
		found = found || c.GetName() == name
	}
	if !found {
		t.Fatalf("ListClusters does not list %s", name)
	}

	_, err = client.ClustersApi.DeleteCluster(ctx, e.projectID, name).Execute()
	ok(t, "DeleteCluster", err)
	// The first read after a delete may still show DELETING; then CLUSTER_NOT_FOUND.
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, res, err := client.ClustersApi.GetCluster(ctx, e.projectID, name).Execute()
		if err == nil {
			if c.GetStateName() != "DELETING" {
				t.Fatalf("after DeleteCluster the cluster is %q, want DELETING or 404", c.GetStateName())
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster %s still DELETING", name)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		wantNotFound(t, "GetCluster after DeleteCluster", res, err, "CLUSTER_NOT_FOUND")
		break
	}
}

func TestDigestDatabaseUsersAndAccessList(t *testing.T) {
	e := serverEnv(t)
	ctx := context.Background()
	client := digestClient(t, e)

	var names []string
	for i := 0; i < 5; i++ {
		name := unique(fmt.Sprintf("sdk-user-%d", i))
		user, _, err := client.DatabaseUsersApi.CreateDatabaseUser(ctx, e.projectID, &admin.CloudDatabaseUser{
			Username:     name,
			Password:     admin.PtrString("a-Long-enough-passw0rd"),
			DatabaseName: "admin",
			GroupId:      e.projectID,
			Roles:        []admin.DatabaseUserRole{{RoleName: "readWrite", DatabaseName: "app"}},
		}).Execute()
		ok(t, "CreateDatabaseUser", err)
		if user.GetUsername() != name || user.HasPassword() {
			t.Fatalf("CreateDatabaseUser answer: username %q, password shown %v", user.GetUsername(), user.HasPassword())
		}
		names = append(names, name)
	}

	seen := map[string]bool{}
	for page := 1; page <= 20; page++ {
		list, _, err := client.DatabaseUsersApi.ListDatabaseUsers(ctx, e.projectID).ItemsPerPage(2).PageNum(page).Execute()
		ok(t, "ListDatabaseUsers", err)
		for _, u := range list.GetResults() {
			seen[u.Username] = true
		}
		if len(list.GetResults()) < 2 {
			break
		}
	}
	for _, n := range names {
		if !seen[n] {
			t.Fatalf("database user %s missing from the pages", n)
		}
	}

	scoped, _, err := client.DatabaseUsersApi.UpdateDatabaseUser(ctx, e.projectID, "admin", names[0], &admin.CloudDatabaseUser{
		Username:     names[0],
		DatabaseName: "admin",
		GroupId:      e.projectID,
		Roles:        []admin.DatabaseUserRole{{RoleName: "read", DatabaseName: "reports"}},
		Scopes:       &[]admin.UserScope{{Name: "nowhere", Type: "CLUSTER"}},
	}).Execute()
	ok(t, "UpdateDatabaseUser", err)
	if roles := scoped.GetRoles(); len(roles) != 1 || roles[0].RoleName != "read" {
		t.Fatalf("UpdateDatabaseUser roles = %+v", roles)
	}
	read, _, err := client.DatabaseUsersApi.GetDatabaseUser(ctx, e.projectID, "admin", names[0]).Execute()
	ok(t, "GetDatabaseUser", err)
	if scopes := read.GetScopes(); len(scopes) != 1 || scopes[0].Name != "nowhere" {
		t.Fatalf("GetDatabaseUser scopes = %+v", scopes)
	}
	for _, n := range names {
		_, err = client.DatabaseUsersApi.DeleteDatabaseUser(ctx, e.projectID, "admin", n).Execute()
		ok(t, "DeleteDatabaseUser", err)
	}
	_, res, err := client.DatabaseUsersApi.GetDatabaseUser(ctx, e.projectID, "admin", names[0]).Execute()
	wantNotFound(t, "GetDatabaseUser after delete", res, err, "USERNAME_NOT_FOUND")

	entries := []admin.NetworkPermissionEntry{
		{CidrBlock: admin.PtrString("10.1.0.0/16"), Comment: admin.PtrString("office")},
		{IpAddress: admin.PtrString("192.0.2.7")},
	}
	_, _, err = client.ProjectIPAccessListApi.CreateAccessListEntry(ctx, e.projectID, &entries).Execute()
	ok(t, "CreateAccessListEntry", err)
	entry, _, err := client.ProjectIPAccessListApi.GetAccessListEntry(ctx, e.projectID, "10.1.0.0/16").Execute()
	ok(t, "GetAccessListEntry", err)
	if entry.GetComment() != "office" {
		t.Fatalf("access list entry comment %q", entry.GetComment())
	}
	status, _, err := client.ProjectIPAccessListApi.GetAccessListStatus(ctx, e.projectID, "192.0.2.7").Execute()
	ok(t, "GetAccessListStatus", err)
	if status.GetSTATUS() == "" {
		t.Fatalf("access list status without STATUS: %+v", status)
	}
	_, err = client.ProjectIPAccessListApi.DeleteAccessListEntry(ctx, e.projectID, "10.1.0.0/16").Execute()
	ok(t, "DeleteAccessListEntry", err)
	_, err = client.ProjectIPAccessListApi.DeleteAccessListEntry(ctx, e.projectID, "192.0.2.7").Execute()
	ok(t, "DeleteAccessListEntry", err)
	_, res, err = client.ProjectIPAccessListApi.GetAccessListEntry(ctx, e.projectID, "10.1.0.0/16").Execute()
	if err == nil || res == nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("GetAccessListEntry after delete: %v (status %v)", err, res)
	}
}

func TestServiceAccountClient(t *testing.T) {
	e := serverEnv(t)
	// The SDK's OAuth client takes the HTTP client for the token calls from the context; give
	// it a recorder to see that the token really comes from /api/oauth/token.
	rec := &recorder{base: http.DefaultTransport}
	ctx := context.WithValue(context.Background(), auth.HTTPClient, &http.Client{Transport: rec})
	client, err := admin.NewClient(admin.UseBaseURL(e.baseURL), admin.UseOAuthAuth(ctx, e.clientID, e.clientSecret))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}

	orgs, _, err := client.OrganizationsApi.ListOrgs(ctx).Execute()
	ok(t, "ListOrgs", err)
	found := false
	for _, o := range orgs.GetResults() {
		found = found || o.GetId() == e.orgID
	}
	if !found {
		t.Fatalf("ListOrgs with the service account does not list %s", e.orgID)
	}
	group, _, err := client.ProjectsApi.GetGroup(ctx, e.projectID).Execute()
	ok(t, "GetGroup", err)
	if group.GetId() != e.projectID {
		t.Fatalf("GetGroup = %s", group.GetId())
	}

	name := unique("sdk-sa-project")
	created, _, err := client.ProjectsApi.CreateGroup(ctx, &admin.Group{Name: name, OrgId: e.orgID}).Execute()
	ok(t, "CreateGroup", err)
	flex, _, err := client.FlexClustersApi.CreateFlexCluster(ctx, created.GetId(), &admin.FlexClusterDescriptionCreate20241113{
		Name:             "flex",
		ProviderSettings: admin.FlexProviderSettingsCreate20241113{BackingProviderName: "AWS", RegionName: "US_EAST_1"},
	}).Execute()
	ok(t, "CreateFlexCluster", err)
	if flex.GetName() != "flex" {
		t.Fatalf("CreateFlexCluster answered %+v", flex)
	}
	_, err = client.FlexClustersApi.DeleteFlexCluster(ctx, created.GetId(), "flex").Execute()
	ok(t, "DeleteFlexCluster", err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, res, err := client.FlexClustersApi.GetFlexCluster(ctx, created.GetId(), "flex").Execute()
		if err != nil {
			if res == nil || res.StatusCode != http.StatusNotFound {
				t.Fatalf("GetFlexCluster after delete: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("flex cluster never gone")
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, err = client.ProjectsApi.DeleteGroup(ctx, created.GetId()).Execute()
	ok(t, "DeleteGroup", err)

	tokenCalls := 0
	for _, x := range rec.exchanges() {
		if x.path == "/api/oauth/token" {
			tokenCalls++
			if x.status != http.StatusOK {
				t.Errorf("token call answered %d", x.status)
			}
		}
	}
	if tokenCalls != 1 {
		t.Fatalf("expected one token request for the whole session, saw %d: %+v", tokenCalls, rec.exchanges())
	}

	// A wrong secret: the token endpoint refuses and the SDK reports it.
	bad, err := admin.NewClient(admin.UseBaseURL(e.baseURL), admin.UseOAuthAuth(context.Background(), e.clientID, "mdb_sa_sk_wrong"))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if _, _, err := bad.OrganizationsApi.ListOrgs(context.Background()).Execute(); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("a wrong client secret should fail the token request, got %v", err)
	}
}

// Every call the SDK makes names its operation's API version in Accept (and Content-Type for
// bodies); localatlas must answer in that same version, never refuse it.
func TestVersionHeaders(t *testing.T) {
	e := serverEnv(t)
	ctx := context.Background()
	client, rec := recordingDigestClient(t, e)
	name := unique("sdk-versions")
	var err error

	_, _, err = client.ProjectsApi.GetGroup(ctx, e.projectID).Execute()
	ok(t, "GetGroup", err)
	_, _, err = client.ClustersApi.CreateCluster(ctx, e.projectID, replicaSet(name, "M10")).Execute()
	ok(t, "CreateCluster", err)
	_, _, err = client.ClustersApi.ListClusters(ctx, e.projectID).Execute()
	ok(t, "ListClusters", err)
	_, _, err = client.ClustersApi.GetClusterStatus(ctx, e.projectID, name).Execute()
	ok(t, "GetClusterStatus", err)
	_, _, err = client.ClustersApi.GetProcessArgs(ctx, e.projectID, name).Execute()
	ok(t, "GetProcessArgs", err)
	_, _, err = client.DatabaseUsersApi.ListDatabaseUsers(ctx, e.projectID).Execute()
	ok(t, "ListDatabaseUsers", err)
	_, _, err = client.ProjectIPAccessListApi.ListAccessListEntries(ctx, e.projectID).Execute()
	ok(t, "ListAccessListEntries", err)
	_, _, err = client.FlexClustersApi.ListFlexClusters(ctx, e.projectID).Execute()
	ok(t, "ListFlexClusters", err)
	_, _, err = client.ProjectsApi.GetGroupSettings(ctx, e.projectID).Execute()
	ok(t, "GetGroupSettings", err)
	_, err = client.ClustersApi.DeleteCluster(ctx, e.projectID, name).Execute()
	ok(t, "DeleteCluster", err)

	versioned := regexp.MustCompile(`^application/vnd\.atlas\.(\d{4}-\d{2}-\d{2})\+json`)
	versions := map[string]bool{}
	answered := 0
	for _, x := range rec.exchanges() {
		if x.status == http.StatusUnauthorized && x.authorization == "" {
			continue // the Digest challenge round trip
		}
		answered++
		m := versioned.FindStringSubmatch(x.accept)
		if m == nil {
			t.Errorf("%s %s sent Accept %q", x.method, x.path, x.accept)
			continue
		}
		versions[m[1]] = true
		if x.status >= 400 {
			t.Errorf("%s %s (Accept %s) answered %d", x.method, x.path, x.accept, x.status)
		}
		if x.contentType != "" && !strings.HasPrefix(x.contentType, "application/vnd.atlas."+m[1]) {
			t.Errorf("%s %s: Content-Type %q does not match Accept %q", x.method, x.path, x.contentType, x.accept)
		}
		if x.status != http.StatusNoContent && x.status != http.StatusAccepted && x.answerType != "" {
			a := versioned.FindStringSubmatch(x.answerType)
			if a == nil || a[1] != m[1] {
				t.Errorf("%s %s asked for %s, answered Content-Type %q", x.method, x.path, m[1], x.answerType)
			}
		}
	}
	if answered < 10 {
		t.Fatalf("recorded only %d answered requests", answered)
	}
	if len(versions) < 3 {
		t.Fatalf("expected the SDK to use several API versions, saw %v", versions)
	}
	t.Logf("API versions the SDK sent: %v", versions)
}
