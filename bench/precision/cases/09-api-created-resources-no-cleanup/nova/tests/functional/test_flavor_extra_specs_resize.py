# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

from oslo_utils.fixture import uuidsentinel as uuids

from nova.tests.functional import integrated_helpers


class ResizeWithExtraSpecsTest(integrated_helpers.ProviderUsageBaseTestCase):

    compute_driver = 'fake.MediumFakeDriver'

    def setUp(self):
        super().setUp()
        self._start_compute('host1')
        self._start_compute('host2')
        self.flavor_small = self._create_flavor(
            name='small', memory_mb=512, vcpu=1, disk=1)
        self.flavor_big = self._create_flavor(
            name='big', memory_mb=1024, vcpu=2, disk=1,
            extra_spec={'hw:cpu_policy': 'shared'})
        self.agg_id = self._create_aggregate('resize-agg')

    def test_resize_keeps_usage_consistent(self):
        rp = self._post_resource_provider('extra-provider')
        self._set_aggregate(rp['uuid'], uuids.resize_agg)
        server = self._create_server(
            flavor_id=self.flavor_small, networks='none')

        server = self._resize_server(server, self.flavor_big)
        self._confirm_resize(server)

        flavor = self.api.get_flavor(self.flavor_big)
        self.assertEqual(2, flavor['vcpus'])
